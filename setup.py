"""Packaging: the library plus the reference handler's folder, mapped into the wheel.

``lambda_src/`` stays at the top of the repository (where the Lambda asset is bundled from) and
ships in the wheel as ``ses_lambda_constructs/lambda_src`` so that installed constructs can bundle
it too. Everything else is in pyproject.toml.
"""

from setuptools import find_packages, setup

HANDLER_PACKAGE = "ses_lambda_constructs.lambda_src"

setup(
    packages=[
        *find_packages(include=["ses_lambda_constructs", "ses_lambda_constructs.*"]),
        HANDLER_PACKAGE,
        *(f"{HANDLER_PACKAGE}.{name}" for name in find_packages("lambda_src")),
    ],
    package_dir={HANDLER_PACKAGE: "lambda_src"},
    package_data={
        "ses_lambda_constructs": ["py.typed", "data/*.json"],
        "ses_lambda_constructs.custom_resources": ["rule_set/*.py"],
        HANDLER_PACKAGE: ["requirements.txt"],
        "": ["*.json"],
    },
    include_package_data=False,
)
