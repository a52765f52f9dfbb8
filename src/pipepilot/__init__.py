"""pipepilot: a typed, testable object model over AWS CodePipeline and CodeBuild.

Importing this package is cheap on purpose (Lambda cold starts): it loads boto3, botocore, attrs,
tenacity and the standard library, never moto, the offline engine or the command line.
"""

from __future__ import annotations

__version__ = "0.1.0.dev0"

__all__ = ["__version__"]
