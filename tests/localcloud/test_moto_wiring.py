"""The moto extensions are applied by one explicit call, ``moto_ext.install()``, never by an import.

Each check runs in a fresh interpreter: this test process has a local cloud running (and so
moto patched) by the time it gets here.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent

# Prints a JSON report of what moto looked like after each step. "Moto's state" is every attribute
# of every loaded moto module, and of every class defined in one, compared by identity: a patch
# replaces one of them (``patches.patching.patch`` or a plain assignment), so any patch applied
# by an import shows up as a changed attribute.
PROBE = textwrap.dedent(
    """
    import ast, importlib, importlib.util, json, os, pkgutil, sys, types

    # moto's modules that the local cloud uses (those its adapter imports), loaded first by
    # themselves, without any module of the local cloud (``find_spec`` of a submodule would
    # import its packages)
    package = importlib.util.find_spec("ses_lambda_localcloud").submodule_search_locations[0]
    adapter = os.path.join(package, "moto_ext", "moto_internals.py")
    for node in ast.walk(ast.parse(open(adapter).read())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("moto"):
            importlib.import_module(node.module)

    def moto_state():
        state = {}
        for name, module in list(sys.modules.items()):
            if module is None or not (name == "moto" or name.startswith("moto.")):
                continue
            for attr, value in list(vars(module).items()):
                if isinstance(value, types.ModuleType):
                    continue  # a submodule imported since: not a change of behaviour
                state[f"{name}:{attr}"] = value
                if isinstance(value, type) and value.__module__ == name:
                    for member, inner in list(vars(value).items()):
                        state[f"{name}:{attr}.{member}"] = inner
        return state

    def changed(before, after):
        return sorted(key for key, value in before.items() if after.get(key) is not value)

    before = moto_state()
    import ses_lambda_localcloud
    from ses_lambda_localcloud import moto_ext
    imported = []
    for info in pkgutil.walk_packages(ses_lambda_localcloud.__path__, "ses_lambda_localcloud."):
        if info.name.endswith("__main__"):
            continue  # runs the CLI
        importlib.import_module(info.name)
        imported.append(info.name)
    after_imports = moto_state()
    installed_before = moto_ext.installed()
    from moto.cloudformation import parsing
    from ses_lambda_localcloud.moto_ext.cfn import LOCAL_MODELS

    def parsed_types():
        model_map = parsing.get_model_map()
        return sorted(t for t, model in LOCAL_MODELS.items() if model_map.get(t) is model)

    models_before = parsed_types()
    moto_ext.install()
    models_after = parsed_types()
    after_install = moto_state()
    moto_ext.install()
    after_second = moto_state()
    print(json.dumps({
        "imported": imported,
        "changed_by_imports": changed(before, after_imports),
        "installed_before": installed_before,
        "installed_after": moto_ext.installed(),
        "changed_by_install": changed(after_imports, after_install),
        "changed_by_second_install": changed(after_install, after_second),
        "local_models": sorted(LOCAL_MODELS),
        "parsed_before_install": models_before,
        "parsed_after_install": models_after,
    }))
    """
)


def probe() -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def test_importing_changes_nothing_in_moto_and_install_patches_once() -> None:
    report = probe()
    imported = report["imported"]
    assert isinstance(imported, list)
    # every module of the package was imported, the patches and the CloudFormation models too
    for module in (
        "ses_lambda_localcloud.server",
        "ses_lambda_localcloud.moto_ext.patches.cloudformation",
        "ses_lambda_localcloud.moto_ext.cfn.ses",
        "ses_lambda_localcloud.receiving.receiver",
    ):
        assert module in imported
    assert report["changed_by_imports"] == []
    assert report["installed_before"] is False
    assert report["installed_after"] is True
    changed = report["changed_by_install"]
    assert isinstance(changed, list)
    # one patch of each area, as seen from moto's side
    for key in (
        "moto.cloudformation.parsing:get_model_list",
        "moto.cloudformation.models:CloudFormationBackend.create_stack",
        "moto.cloudformation.models:CloudFormationBackend.execute_change_set",
        "moto.s3.models:S3Backend.put_object",
        "moto.ses.models:SESBackend.create_receipt_rule",
        "moto.sesv2.responses:SESV2Response.send_email",
        "moto.awslambda.models:LambdaFunction.invoke",
        "moto.events.models:EventsBackend.put_events",
        "moto.backends:list_of_moto_modules",
    ):
        assert key in changed, (key, changed)
    assert report["changed_by_second_install"] == []
    # The CloudFormation models reach moto's template parser through install() (the registry
    # cfn.LOCAL_MODELS), and only then.
    assert report["parsed_before_install"] == []
    assert report["parsed_after_install"] == report["local_models"]
    assert "AWS::SES::ReceiptRuleSet" in report["local_models"]
