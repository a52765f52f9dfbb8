"""The library's facades and handles against the offline engine, as a user's code would call them."""
