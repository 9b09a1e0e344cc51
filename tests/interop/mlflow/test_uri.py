"""The ``mlgate:`` registry URI forms, the options they carry, and the download URIs; what cannot be read is one
clear error. Also: mlgate and its serving module import without MLflow installed."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mlgate.interop.mlflow.uri import ArtifactRef, RegistryURIError, parse_download_uri, parse_registry_uri

DIGEST = "ab" * 32


@pytest.mark.parametrize(
    ("uri", "kind", "location", "ref"),
    [
        ("mlgate:/srv/registry", "checkout", "/srv/registry", None),
        ("mlgate:///srv/registry", "checkout", "/srv/registry", None),
        ("mlgate:file:///srv/my%20registry", "checkout", "/srv/my registry", None),
        ("mlgate:registry", "checkout", "/work/here/registry", None),
        ("mlgate:../registry/", "checkout", "/work/registry", None),
        ("MLGATE:/srv/registry", "checkout", "/srv/registry", None),
        ("mlgate:/srv/registry#main", "git", "/srv/registry", "main"),
        ("mlgate:/srv/registry.git", "git", "/srv/registry.git", "main"),
        ("mlgate:/srv/registry.git#release/2026", "git", "/srv/registry.git", "release/2026"),
        ("mlgate:git+https://github.com/acme/registry.git#main", "git", "https://github.com/acme/registry.git", "main"),
        ("mlgate:git+https://github.com/acme/registry#prod", "git", "https://github.com/acme/registry", "prod"),
        ("mlgate:https://github.com/acme/registry.git", "git", "https://github.com/acme/registry.git", "main"),
        (
            "mlgate:git+ssh://git@github.com/acme/registry.git#main",
            "git",
            "ssh://git@github.com/acme/registry.git",
            "main",
        ),
        ("mlgate:git+file:///srv/registry#main", "git", "file:///srv/registry", "main"),
        ("mlgate:/srv/registry-index.json", "index", "/srv/registry-index.json", None),
        ("mlgate:index.json", "index", "/work/here/index.json", None),
        ("mlgate:https://cdn.acme.com/registry-index.json", "index", "https://cdn.acme.com/registry-index.json", None),
        ("mlgate:s3://acme/registry-index.json?forge=none", "index", "s3://acme/registry-index.json", None),
        # a signed URL keeps its own query; mlgate's options are taken out of it
        (
            "mlgate:https://cdn.acme.com/index.json?X-Sig=abc&user=alice",
            "index",
            "https://cdn.acme.com/index.json?X-Sig=abc",
            None,
        ),
    ],
)
def test_registry_uri_forms(uri: str, kind: str, location: str, ref: str | None) -> None:
    parsed = parse_registry_uri(uri, cwd="/work/here")
    assert (parsed.kind, parsed.location, parsed.ref) == (kind, location, ref)


def test_options_configure_writes() -> None:
    parsed = parse_registry_uri(
        "mlgate:/srv/registry?forge=github&user=alice&store=s3://acme-models&base=prod&github_repo=acme/registry"
    )
    assert parsed.options == {
        "forge": "github",
        "user": "alice",
        "store": "s3://acme-models",
        "base": "prod",
        "github_repo": "acme/registry",
    }
    assert (parsed.checkout, parsed.base) == ("/srv/registry", "prod")
    assert parse_registry_uri("mlgate:/srv/registry.git#release").base == "release"
    assert parse_registry_uri("mlgate:https://x/i.json?repo=/srv/clone").checkout == "/srv/clone"


@pytest.mark.parametrize(
    ("uri", "words"),
    [
        ("mlflow:/srv/registry", "is not an mlgate registry URI"),
        ("mlgate:", "is not an mlgate registry URI"),
        ("mlgate://host/registry", "a host after mlgate:// is not a location"),
        ("mlgate:/srv/registry?forg=local", "unknown option 'forg'; did you mean 'forge'?"),
        ("mlgate:/srv/registry?forge=gitlab", "expected local, github or none"),
        ("mlgate:/srv/registry?user=a&user=b", "option 'user' is given twice"),
        ("mlgate:/srv/registry?refresh=soon", "expected a number of seconds"),
        ("mlgate:/srv/index.json#main", "an index is one file, it has no #ref"),
        ("mlgate:https://github.com/acme/registry", "a URL is read as a git repository when it starts with git+"),
        ("mlgate:/srv/registry?trusted_keys=/k.pub", "trusted_keys authenticate a serving index"),
    ],
)
def test_unreadable_registry_uris_say_why(uri: str, words: str) -> None:
    with pytest.raises(RegistryURIError) as e:
        parse_registry_uri(uri)
    assert words in str(e.value)


def test_download_uris_round_trip() -> None:
    ref = ArtifactRef("fraud-detector", 7, "s3://acme/sha256/ab/x?versionId=3&y=1", DIGEST, 1234, "tar")
    uri = ref.download_uri()
    assert uri.startswith("mlgate-artifact://fraud-detector/7?")
    assert parse_download_uri(uri) == ref


@pytest.mark.parametrize(
    "uri",
    [
        f"mlgate-artifact://Fraud/7?uri=s3://x&sha256={DIGEST}&size=1",
        f"mlgate-artifact://fraud/07?uri=s3://x&sha256={DIGEST}&size=1",
        "mlgate-artifact://fraud/7?uri=s3://x&sha256=abc&size=1",
        f"mlgate-artifact://fraud/7?sha256={DIGEST}&size=1",
        f"mlgate-artifact://fraud/7?uri=s3://x&sha256={DIGEST}&size=-1",
        f"s3://fraud/7?uri=s3://x&sha256={DIGEST}&size=1",
    ],
)
def test_malformed_download_uris_are_refused(uri: str) -> None:
    with pytest.raises(RegistryURIError, match="is not an mlgate download URI"):
        parse_download_uri(uri)


def test_mlgate_and_serving_import_without_mlflow() -> None:
    code = (
        "import sys\n"
        "class NotInstalled:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'mlflow':\n"
        "            raise ModuleNotFoundError(name=name)\n"
        "sys.meta_path.insert(0, NotInstalled())\n"
        "import mlgate, mlgate.serving, mlgate.api, mlgate.cli, mlgate.interop\n"
        "print(mlgate.register.__name__, 'mlflow' in sys.modules)\n"
    )
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert ran.returncode == 0 and ran.stdout == "register False\n", ran.stderr
