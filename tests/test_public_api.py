"""The package's public names resolve, and importing the package does not load the CDK."""

from __future__ import annotations

import subprocess
import sys

import ses_lambda_constructs


def test_all_lists_exactly_the_lazy_exports() -> None:
    assert set(ses_lambda_constructs.__all__) == set(ses_lambda_constructs._EXPORTS)


def test_every_exported_name_resolves() -> None:
    for name in ses_lambda_constructs.__all__:
        assert getattr(ses_lambda_constructs, name) is not None, name


def test_unknown_names_raise_attribute_error() -> None:
    try:
        ses_lambda_constructs.NoSuchThing  # noqa: B018
    except AttributeError as error:
        assert "NoSuchThing" in str(error)
    else:
        raise AssertionError("expected AttributeError")


def test_importing_the_package_or_the_replay_tool_leaves_the_cdk_unloaded() -> None:
    code = (
        "import sys, ses_lambda_constructs, ses_lambda_constructs.replay;"
        "print('aws_cdk' in sys.modules, 'jsii' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
