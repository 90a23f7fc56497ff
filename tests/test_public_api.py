"""The package's public names resolve, and importing the package does not load the CDK."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

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


#: Concrete CDK classes whose interface is what an attribute or a resource prop should expose.
_CONCRETE = {
    "lambda_.Function": "lambda_.IFunction",
    "cloudwatch.Alarm": "cloudwatch.IAlarm",
    "sqs.Queue": "sqs.IQueue",
    "s3.Bucket": "s3.IBucket",
    "logs.LogGroup": "logs.ILogGroup",
    "kms.Key": "kms.IKey",
    "sns.Topic": "sns.ITopic",
}


def test_public_attributes_and_props_are_typed_by_interface() -> None:
    found: list[str] = []
    package = Path(ses_lambda_constructs.__file__).parent
    for path in sorted(package.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            annotation = None
            where = ""
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Attribute)
                and isinstance(node.target.value, ast.Name)
                and node.target.value.id == "self"
                and not node.target.attr.startswith("_")
            ):
                annotation, where = node.annotation, f"self.{node.target.attr}"
            elif isinstance(node, ast.arg) and node.annotation is not None:
                annotation, where = node.annotation, f"parameter {node.arg}"
            if annotation is None:
                continue
            text = ast.unparse(annotation)
            for concrete, interface in _CONCRETE.items():
                if re.search(rf"\b{re.escape(concrete)}\b", text):
                    found.append(f"{path.name}:{node.lineno} {where}: {concrete} ({interface})")
    # Return types are not checked: FunctionHardening.function returns the Function it defines.
    assert found == [], "\n".join(found)
