"""Layers: each layer version's zip is unpacked, in the function's order, into one folder that
stands for Lambda's ``/opt``, and its ``python`` paths come after the function's own code on
``sys.path`` (API and CloudFormation)."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from typing import Any

from ses_lambda_localcloud.server import LocalCloud

from . import test_lambda
from .test_cloudformation import ROLE, change_set_deploy, failures
from .test_lambda import invoke, zipped

#: The function-making fixture of the Lambda tests, used here too.
make_function = test_lambda.make_function

CODE = """
import importlib, sys
def handler(event, context):
    found = {}
    for name in event["modules"]:
        module = importlib.import_module(name)
        found[name] = module.WHO
    return {"found": found, "path": sys.path[:4]}
"""


def layer_zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return buffer.getvalue()


def publish(aws: Callable[[str], Any], name: str, files: dict[str, str]) -> str:
    answer = aws("lambda").publish_layer_version(
        LayerName=name, Content={"ZipFile": layer_zip(files)}, CompatibleRuntimes=["python3.13"]
    )
    return str(answer["LayerVersionArn"])


def test_a_function_imports_what_only_its_layers_have_in_their_order(
    make_function: Callable[..., str], aws: Callable[[str], Any]
) -> None:
    first = publish(
        aws,
        "first",
        {
            "python/only_in_layer.py": "WHO = 'first layer'\n",
            "python/shared.py": "WHO = 'first layer'\n",
            "python/lib/python3.13/site-packages/deep.py": "WHO = 'site-packages of a layer'\n",
        },
    )
    second = publish(aws, "second", {"python/shared.py": "WHO = 'second layer'\n"})
    with_layers = make_function("with-layers", Layers=[first, second])
    aws("lambda").update_function_code(FunctionName=with_layers, ZipFile=zipped(CODE))
    response = invoke(aws, with_layers, {"modules": ["only_in_layer", "shared", "deep"]})
    assert "FunctionError" not in response, response["body"]
    # A later layer's file replaces an earlier one's of the same path.
    assert response["body"]["found"] == {
        "only_in_layer": "first layer",
        "shared": "second layer",
        "deep": "site-packages of a layer",
    }
    path = response["body"]["path"]
    # The function's own code first, then the layer paths (site-packages first), then the rest.
    assert path[1].endswith("/python/lib/python3.13/site-packages")
    assert path[2].endswith("/python") and path[1].startswith(path[2])

    without = make_function("without-layers")
    aws("lambda").update_function_code(FunctionName=without, ZipFile=zipped(CODE))
    refused = invoke(aws, without, {"modules": ["only_in_layer"]})
    assert refused["FunctionError"] == "Unhandled"
    assert refused["body"]["errorType"] == "ModuleNotFoundError"
    assert "only_in_layer" in refused["body"]["errorMessage"]


def test_a_stack_layer_version_ref_is_its_arn_and_the_function_runs_on_it(
    fresh: LocalCloud, aws: Callable[[str], Any]
) -> None:
    s3 = aws("s3")
    s3.create_bucket(Bucket="layer-assets")
    s3.put_object(
        Bucket="layer-assets",
        Key="layer.zip",
        Body=layer_zip({"python/from_stack.py": "WHO = 'the stack layer'\n"}),
    )
    template: dict[str, Any] = {
        "Resources": {
            "Role": ROLE,
            "Layer": {
                "Type": "AWS::Lambda::LayerVersion",
                "Properties": {
                    "LayerName": "stack-layer",
                    "Content": {"S3Bucket": "layer-assets", "S3Key": "layer.zip"},
                    "CompatibleRuntimes": ["python3.13"],
                },
            },
            "Fn": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "FunctionName": "on-a-stack-layer",
                    "Runtime": "python3.13",
                    "Handler": "index.handler",
                    "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                    "Code": {"ZipFile": CODE},
                    "Layers": [{"Ref": "Layer"}],
                },
            },
        },
        "Outputs": {"Layer": {"Value": {"Ref": "Layer"}}},
    }
    stack = change_set_deploy(aws, "layers", template)
    assert stack["StackStatus"] == "CREATE_COMPLETE", failures(aws, "layers")
    arn = stack["Outputs"][0]["OutputValue"]
    assert arn == "arn:aws:lambda:us-east-1:123456789012:layer:stack-layer:1"
    configuration = aws("lambda").get_function_configuration(FunctionName="on-a-stack-layer")
    assert [layer["Arn"] for layer in configuration["Layers"]] == [arn]
    response = invoke(aws, "on-a-stack-layer", {"modules": ["from_stack"]})
    assert response["body"]["found"] == {"from_stack": "the stack layer"}, response["body"]

    # Any property change publishes a new version; the old one goes in cleanup.
    s3.put_object(
        Bucket="layer-assets",
        Key="layer-2.zip",
        Body=layer_zip({"python/from_stack.py": "WHO = 'version two'\n"}),
    )
    template["Resources"]["Layer"]["Properties"]["Content"]["S3Key"] = "layer-2.zip"
    stack = change_set_deploy(aws, "layers", template)
    assert stack["StackStatus"] == "UPDATE_COMPLETE", failures(aws, "layers")
    assert stack["Outputs"][0]["OutputValue"].endswith(":layer:stack-layer:2")
    versions = aws("lambda").list_layer_versions(LayerName="stack-layer")["LayerVersions"]
    assert [v["Version"] for v in versions] == [2]
    response = invoke(aws, "on-a-stack-layer", {"modules": ["from_stack"]})
    assert response["body"]["found"] == {"from_stack": "version two"}, json.dumps(response["body"])
