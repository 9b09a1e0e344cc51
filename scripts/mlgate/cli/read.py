"""The registry's read-side commands: validate, list, show, resolve, gate, compare, history, whois, index,
verify, rules and demo."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, Callable

import click

from mlgate.cli.app import FORMATS, Context, _echo, _forge_options, _open_forge, _out, cli, progress_bar
from mlgate.core.events import KINDS as EVENT_KINDS
from mlgate.errors import EXIT_CHECK_FAILED, EXIT_OK, MlgateError

if TYPE_CHECKING:
    from click.decorators import FC


def _format_option(text: str) -> Callable[[FC], FC]:
    return click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True, help=text)


@cli.command()
@click.option(
    "--base",
    metavar="REF",
    help="Git ref of the target branch. Only what changed since it is checked, "
    "versions that exist on it must not change, and its policy judges every alias change.",
)
@click.option("--head", metavar="REF", help="Git ref to check instead of the working tree.")
@_format_option("Report format: text for terminals, markdown for PR comments and job summaries, json for tools.")
@_forge_options(None)
@click.option(
    "--pr",
    "pr",
    metavar="N",
    help="Judge pull request N of the forge: its base and head, with its reviews. "
    "In GitHub Actions the pull request comes from the event payload.",
)
@click.option(
    "--comment/--no-comment",
    default=False,
    show_default=True,
    help="Post (or update) the Markdown report as a comment on the pull request.",
)
@click.pass_obj
def validate(
    obj: Context,
    base: str | None,
    head: str | None,
    fmt: str,
    forge_kind: str | None,
    github_url: str | None,
    github_repo: str | None,
    pr: str | None,
    comment: bool,
) -> int:
    """Check the registry: parsing, schemas, integrity, immutability and promotion gates.

    Exits 0 when every check passes, 1 when one fails or a gate is pending, 2
    for bad usage or an unreadable repository or ref. Every problem is reported.

    \b
    Examples:
      mlgate validate                                  # whole working tree
      mlgate validate --base origin/main               # your changes vs main
      mlgate validate --base main --head pr-42 --format json
      mlgate validate --forge local --pr 3             # a local pull request, with its reviews
      mlgate validate --forge github --comment         # in GitHub Actions
    """
    from mlgate.check.run import validate_repo
    from mlgate.errors import UsageError
    from mlgate.render.report import report_dict, report_markdown, report_markdown_short, report_text, to_json

    source = click.get_current_context().get_parameter_source("forge_kind")
    if forge_kind == "local" and pr is None and source is not click.core.ParameterSource.COMMANDLINE:
        forge_kind = None  # $MLGATE_FORGE=local, set for the write commands: this check reads no pull request
    forge = _open_forge(obj, forge_kind, github_url, github_repo)
    reviews = None
    number = None
    judged_head = None  # the pull request's head the event is about, when approvals must be on that very commit
    info = None  # the pull request, when --pr read it already (each read costs GitHub API calls)
    if forge is not None:
        from mlgate.change.propose import pr_number
        from mlgate.forge import ForgeReviews, actions_context

        if pr is not None:
            number = pr_number(pr)
            info = forge.pull_request(number)
            base = base or (info.base if forge.name == "local" else f"origin/{info.base}")
            head = head or info.head_sha
        elif forge.name == "github":
            ctx = actions_context()
            number = ctx.number
            base, head = base or ctx.base_sha, head or ctx.head_sha
            if ctx.pr_head:  # a merge queue judges its own merge commit, with the approvals of the PR's head
                judged_head = ctx.head_sha
        else:
            raise UsageError("--forge local needs --pr N")
        # approvals count on the commit whose files are judged: a run for an earlier push must not borrow
        # approvals given to a later head
        reviews = ForgeReviews(forge, number, head_sha=judged_head, pull=info) if number is not None else None
    elif pr is not None or comment:
        raise UsageError("--pr and --comment need a forge: pass --forge local or --forge github")
    try:
        report = validate_repo(obj.repo, base=base, head=head, reviews=reviews)
    except MlgateError as error:
        if comment and number is not None:  # never leave an earlier verdict standing when this run cannot judge
            _comment_cannot_judge(forge, number, error)
        raise
    if fmt == "json":
        _out(to_json(report_dict(report)))
    elif fmt == "markdown":
        _out(report_markdown(report))
    else:
        _out(report_text(report, color=sys.stdout.isatty()))
    if comment and number is not None:
        from mlgate.forge import ForgeError

        try:
            forge.upsert_comment(number, report_markdown(report), short=report_markdown_short(report))
        except ForgeError as e:  # a read-only token (a fork's PR) cannot comment; the check still counts
            _echo(f"mlgate: warning: could not comment on #{number}: {e}", err=True)
    return EXIT_OK if report.ok else EXIT_CHECK_FAILED


def _comment_cannot_judge(forge: Any, number: int, error: Exception) -> None:
    from mlgate.forge import ForgeError
    from mlgate.render.report import md_text

    body = (
        f"### mlgate validate: could not judge this pull request :x:\n\n{md_text(error)}\n\n"
        "_Any earlier verdict here is outdated: see the check's log._\n"
    )
    try:
        forge.upsert_comment(number, body)
    except ForgeError as e:
        _echo(f"mlgate: warning: could not comment on #{number}: {e}", err=True)


_ref_option = click.option(
    "--ref", metavar="REF", help="Read the registry at this git ref instead of the working tree."
)
_json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")


@cli.command("list")
@_ref_option
@_json_option
@click.pass_obj
def list_models(obj: Context, ref: str | None, as_json: bool) -> int:
    """List models with their versions and aliases.

    \b
    Examples:
      mlgate list
      mlgate list --ref main --json
    """
    from mlgate.registry.prefetch import prefetched
    from mlgate.registry.snapshot import Registry, describe_models
    from mlgate.render.report import models_text, to_json

    view = describe_models(prefetched(Registry.open(obj.repo, ref)))  # every model's manifests: read ahead
    _out(to_json(view) if as_json else models_text(view))
    return EXIT_OK


_TARGET = "MODEL[@ALIAS|/VERSION]"


@cli.command()
@click.argument("target", metavar=_TARGET)
@click.argument("version", required=False, metavar="[VERSION|ALIAS]")
@_ref_option
@_json_option
@click.pass_obj
def show(obj: Context, target: str, version: str | None, ref: str | None, as_json: bool) -> int:
    """Show a model (aliases, versions with their metrics) or one version in full.

    A version is named MODEL/VERSION, MODEL@ALIAS (the version the alias
    holds), a models:/ URI, or MODEL VERSION.

    \b
    Examples:
      mlgate show fraud-detector
      mlgate show fraud-detector@champion
      mlgate show fraud-detector/2 --json
      mlgate show models:/fraud-detector/2 --ref main
    """
    from mlgate.registry.names import resolve_target
    from mlgate.registry.snapshot import Registry, describe_model, describe_version
    from mlgate.render.report import model_text, to_json, version_text

    reg = Registry.open(obj.repo, ref)
    named = resolve_target(reg, target, then=version)
    if named.version is None:
        view = describe_model(reg, named.model)
        view["timeline"] = _timeline(obj, named.model, ref)
        _out(to_json(view) if as_json else model_text(view))
    else:
        view = describe_version(reg, named.model, named.version)
        _out(to_json(view) if as_json else version_text(view))
    return EXIT_OK


def _timeline(obj: Context, model: str, ref: str | None) -> list[dict[str, Any]] | None:
    """The model's alias changes, latest first, from git history (None outside a git repository)."""
    from mlgate.audit.history import history as read_history
    from mlgate.core.events import PROMOTION, REMOVAL, ROLLBACK, ROLLOUT_KINDS
    from mlgate.errors import GitError

    try:
        result = read_history(obj.repo, ref=ref or "HEAD", model=model)
    except GitError:
        return None
    return [e.to_dict() for e in result.events if e.kind in (PROMOTION, ROLLBACK, REMOVAL, *ROLLOUT_KINDS)]


@cli.command()
@click.argument("uri", metavar="MODEL@ALIAS|MODEL/VERSION|models:/...")
@_ref_option
@_json_option
@click.pass_obj
def resolve(obj: Context, uri: str, ref: str | None, as_json: bool) -> int:
    """Resolve an alias or version to a version, its artifact URI and sha256.

    Takes models:/NAME@ALIAS, models:/NAME/VERSION, or the same without
    models:/ (NAME@ALIAS, NAME/VERSION), as MLflow reads them: NAME/latest
    (or NAME@latest) is the newest version; a stage in any case
    (NAME/Production, NAME/Staging) is the alias policy.yaml's stages: maps
    it to (default: champion, challenger), NAME/Archived the newest
    deprecated version, NAME/None the newest in no stage. A models:/ URI may
    end in a path inside the artifact (models:/NAME/3/MLmodel).

    \b
    Examples:
      mlgate resolve fraud-detector@champion
      mlgate resolve models:/fraud-detector@champion
      mlgate resolve models:/fraud-detector/Production
      mlgate resolve fraud-detector/latest --ref main --json
    """
    from dataclasses import replace

    from mlgate.core.uris import parse_uri
    from mlgate.registry.names import resolve_target
    from mlgate.registry.snapshot import Registry
    from mlgate.render.report import resolved_text, to_json

    reg = Registry.open(obj.repo, ref)
    whole = parse_uri(uri) if uri.startswith("models:/") else None  # may end in a path inside the artifact
    named = resolve_target(reg, str(whole.base) if whole else uri, want=("alias", "version", "latest", "stage"))
    view = reg.resolve(replace(named.target.ref, path=whole.path) if whole else named.target.ref).to_dict()
    _out(to_json(view) if as_json else resolved_text(view))
    return EXIT_OK


@cli.command()
@click.argument("target", metavar="MODEL/VERSION|MODEL@ALIAS")
@click.argument("version", required=False, metavar="[VERSION]")
@click.option("--alias", "alias", required=True, metavar="ALIAS", help="The alias to check the version against.")
@_ref_option
@_format_option("text for terminals, markdown for a PR body, json for tools.")
@click.pass_obj
def gate(obj: Context, target: str, version: str | None, alias: str, ref: str | None, fmt: str) -> int:
    """Dry-run the promotion gate: could VERSION of MODEL take ALIAS?

    Evaluates every gate of the policy (evidence, metrics against the current
    holder, card sections, deprecation) as a pull request would be judged.
    Approvals show as pending: they come from reviewers once there is a PR.
    The version is MODEL/VERSION, MODEL VERSION, or MODEL@ALIAS (the version
    that alias holds). Exits 1 if a gate fails, 0 otherwise.

    \b
    Examples:
      mlgate gate fraud-detector/3 --alias champion
      mlgate gate fraud-detector@challenger --alias champion
      mlgate gate fraud-detector 3 --alias champion --format markdown
    """
    from mlgate.check.run import check_gate
    from mlgate.core.rules import FAIL
    from mlgate.registry.names import resolve_target
    from mlgate.registry.snapshot import Registry
    from mlgate.render.report import gate_markdown, gate_text, to_json

    named = resolve_target(
        Registry.open(obj.repo, ref), target, want=("version", "alias", "latest", "stage"), then=version
    )
    assert named.version is not None  # want: a version, or an alias (the version it holds)
    change = check_gate(obj.repo, named.model, named.version, alias, ref=ref)
    if fmt == "json":
        _out(to_json(change.to_dict()))
    elif fmt == "markdown":
        _out(gate_markdown(change))
    else:
        _out(gate_text(change, color=sys.stdout.isatty()))
    return EXIT_CHECK_FAILED if change.status == FAIL else EXIT_OK


@cli.command()
@click.argument("names", nargs=-1, required=True, metavar="MODEL A B | MODEL/A MODEL@B")
@_ref_option
@_format_option("text for terminals, markdown for a PR or a job summary, json for tools.")
@click.pass_obj
def compare(obj: Context, names: tuple[str, ...], ref: str | None, fmt: str) -> int:
    """Compare two versions: metrics side by side, then what else differs.

    A and B are versions or aliases of MODEL (or give each as MODEL/VERSION,
    MODEL@ALIAS or a models:/ URI). Metrics show b - a and which is better,
    by the direction of the policy's metric gates (min: higher is better,
    max: lower is better; a metric no gate names has no known direction).
    Then lineage, parameters, environment, artifact, card sections and
    evidence, each only where the two differ.

    \b
    Examples:
      mlgate compare fraud-detector 2 3
      mlgate compare fraud-detector champion challenger --format markdown
      mlgate compare fraud-detector/1 fraud-detector@champion --ref main --format json
    """
    from mlgate.audit.compare import compare as do_compare
    from mlgate.errors import UsageError
    from mlgate.registry.names import resolve_target
    from mlgate.registry.snapshot import Registry
    from mlgate.render.compare import compare_markdown, compare_text
    from mlgate.render.report import to_json

    VERSIONS = ("alias", "version", "latest", "stage")  # noqa: N806 - what names a version of a model
    reg = Registry.open(obj.repo, ref)
    if len(names) == 3:
        a, b = (resolve_target(reg, names[0], want=VERSIONS, then=x) for x in names[1:])
    elif len(names) == 2:
        a, b = (resolve_target(reg, x, want=VERSIONS) for x in names)
    else:
        raise UsageError(
            f"compare takes MODEL A B or two versions (MODEL/A MODEL@B), not {len(names)} argument{'s' if len(names) != 1 else ''}"
        )
    view = do_compare(reg, a, b)
    if fmt == "json":
        _out(to_json(view))
    elif fmt == "markdown":
        _out(compare_markdown(view))
    else:
        _out(compare_text(view))
    return EXIT_OK


@cli.command()
@click.argument("model", required=False, metavar="[MODEL[@ALIAS]]")
@click.option("--alias", metavar="ALIAS", help="Only this alias of MODEL (or write MODEL@ALIAS).")
@click.option("--since", metavar="DATE", help="Only events from this date (YYYY-MM-DD or an ISO date-time) on.")
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    type=click.Choice(EVENT_KINDS),
    metavar="KIND",
    help="Only events of this kind (repeatable): " + ", ".join(EVENT_KINDS) + ".",
)
@click.option(
    "--ref", default="main", show_default=True, metavar="REF", help="The branch whose first-parent history to read."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown", "json", "jsonl"]),
    default="text",
    show_default=True,
    help="text for terminals, markdown for reports, json (one document), jsonl (one event per line, "
    "schemas/history-event.schema.json) for audit stores.",
)
@click.option(
    "--include-rejected",
    is_flag=True,
    help="Also list pull requests closed without merge (needs a forge), "
    "with who requested changes: the registry's 'Rejected' status, for auditors.",
)
@_forge_options(None)
@click.pass_obj
def history(
    obj: Context,
    model: str | None,
    alias: str | None,
    since: str | None,
    kinds: tuple[str, ...],
    ref: str,
    fmt: str,
    include_rejected: bool,
    forge_kind: str | None,
    github_url: str | None,
    github_repo: str | None,
) -> int:
    """Who registered, promoted, rolled back, deprecated or rolled out what, when, and who approved it.

    Reads the first-parent history of REF with one git process (one model's
    long history: one per CPU), and keeps what it found in .git/mlgate/cache/: a repeat
    run reads only the commits since, or none. With a forge,
    each pull request's approvers are looked up once and cached in .git/mlgate/;
    without one, approvers are reported as unknown, never guessed. Latest first.
    A progressive rollout shows as rollout-start, rollout-evidence,
    rollout-step and rollout-complete (which is also the alias's promotion)
    or rollout-abort.

    \b
    Examples:
      mlgate history fraud-detector@champion
      mlgate history fraud-detector --alias champion
      mlgate history --since 2026-01-01 --forge github --format jsonl >> audit.jsonl
      mlgate history fraud-detector --forge local --include-rejected
      mlgate history fraud-detector@champion --kind rollout-step --kind rollout-complete
    """
    from mlgate.audit.cache import parse_when
    from mlgate.core.uris import with_alias

    if model is not None:  # not looked up in today's registry: the history of a model since removed is still asked
        named = with_alias(model, alias, required=False)
        model, alias = named.model, named.alias
    if fmt == "jsonl" and forge_kind is None and not include_rejected:
        from mlgate.audit.cache import cached_jsonl

        # no forge: the lines come straight from history's cache (the same events, printed the same way)
        asked: dict[str, Any] = {
            "ref": ref,
            "model": model,
            "alias": alias,
            "since": parse_when(since) if since else None,
            "kinds": set(kinds) or None,
        }
        lines = cached_jsonl(obj.repo, **asked)
        if lines is None:
            from mlgate.audit.history import history_jsonl

            lines = history_jsonl(obj.repo, **asked)
        if lines is not None:
            _out(lines)
            return 0
    from mlgate.audit.history import history as read_history
    from mlgate.render.report import history_markdown, history_text, to_json

    result = read_history(
        obj.repo,
        ref=ref,
        model=model,
        alias=alias,
        since=parse_when(since) if since else None,
        forge=_open_forge(obj, forge_kind, github_url, github_repo),
        include_rejected=include_rejected,
        kinds=set(kinds) or None,
    )
    events = [e.to_dict() for e in result.events]
    if fmt == "jsonl":
        import json

        encode = json.JSONEncoder(ensure_ascii=False).encode  # one encoder, not one per event
        _out("".join(encode(e) + "\n" for e in events))
    elif fmt == "json":
        _out(to_json({"ref": ref, "commit": result.commit, "events": events, "warnings": result.warnings}))
    elif fmt == "markdown":
        _out(history_markdown(events, ref))
    else:
        _out(history_text(events, ref))
    for w in result.warnings:
        _echo(f"mlgate: warning: {w}", err=True)
    return EXIT_OK


@cli.command()
@click.argument("target", metavar="MODEL@ALIAS|models:/MODEL@ALIAS")
@click.option("--at", "at", required=True, metavar="DATE|COMMIT", help="A date (the state of REF then) or any commit.")
@click.option("--ref", default="main", show_default=True, metavar="REF", help="The branch a date refers to.")
@_json_option
@click.pass_obj
def whois(obj: Context, target: str, at: str, ref: str, as_json: bool) -> int:
    """Which versions served an alias at a point in time, and at what share.

    During a canary the holder served 100 - PERCENT of the requests and the
    candidate PERCENT; during a shadow the holder served them all and the
    candidate received a mirrored PERCENT. --json adds a "rollout" object
    (null when none was under way) with each version's share.

    \b
    Examples:
      mlgate whois fraud-detector@champion --at 2026-06-01
      mlgate whois fraud-detector@champion --at HEAD~1 --json   # a commit, a tag or a date
    """
    from mlgate.audit.history import alias_at
    from mlgate.core.uris import parse_target
    from mlgate.render.report import to_json, whois_text

    named = parse_target(target, want=("alias",))
    model, alias = named.model, named.alias
    assert alias is not None  # want: an alias
    state = alias_at(obj.repo, model, alias, ref=ref, at=at)
    if as_json:
        _out(
            to_json(
                {
                    "model": model,
                    "alias": alias,
                    "at": at,
                    "commit": state.commit,
                    "version": state.version,
                    "rollout": state.rollout_dict(),
                }
            )
        )
    else:
        _out(whois_text(model, alias, at, state.commit, state.version, state.rollout_dict()))
    return EXIT_OK


@cli.command()
@_ref_option
@click.option(
    "-o",
    "--output",
    "output",
    metavar="FILE|URL",
    help="Write the index here (atomically) instead of printing it: a file, or an object-store URL "
    "(s3://bucket/prefix/index.json, gs://, az://... any URL --store accepts), written whole; no bucket is created.",
)
@click.option(
    "--key",
    "key_file",
    metavar="FILE",
    help="Sign with the ed25519 private key in FILE: PEM (PKCS#8, "
    "unencrypted, as --generate-key writes it) or the raw 32-byte seed. Needs --ref.",
)
@click.option(
    "--key-env",
    "key_env",
    metavar="NAME",
    help="Sign with the PEM private key held in the environment "
    "variable NAME, e.g. MLGATE_INDEX_KEY from a CI secret. Needs --ref.",
)
@click.option(
    "--expires-in",
    "expires_in",
    default="7d",
    show_default=True,
    metavar="DURATION",
    help="How long serving accepts the signed index: a number and s, m, h or d (12h, 7d; at most 365d). "
    "Re-sign before then: publish.yml does so daily.",
)
@click.option(
    "--generate-key",
    "generate",
    metavar="FILE",
    help="Create an ed25519 key pair and do nothing else: "
    "the private key in FILE (PEM, mode 600) and the public key in FILE.pub (PEM), for serving's trusted_keys.",
)
@click.option(
    "--sharded",
    is_flag=True,
    help="Write the sharded layout into the folder -o DIR: DIR/index.json (small, signed: every alias and the "
    "versions aliases name) and one shard per model (every version), read by serving only when needed. "
    "On an object store (-o s3://bucket/prefix, or .../prefix/index.json) the shards go up first, index.json last.",
)
@click.option(
    "--previous",
    metavar="OLD_INDEX",
    help="The index built last (a file or URL, or DIR/index.json when --sharded): rebuild only the models changed "
    "since the commit it records. Refused when it fails its digest or (with --key) is not signed by the key; "
    "a full build, with a note on stderr, when its commit is unknown here or it cannot be read. Needs --ref.",
)
@click.pass_obj
def index(
    obj: Context,
    ref: str | None,
    output: str | None,
    key_file: str | None,
    key_env: str | None,
    expires_in: str,
    generate: str | None,
    sharded: bool,
    previous: str | None,
) -> int:
    """Write the serving index: every model's aliases and artifacts, the commit, a serial, an expiry, signed.

    Serving reads it with `mlgate.serving.open_source(FILE, trusted_keys=[PUBLIC_KEY])`, which refuses an
    unsigned, foreign-signed, altered, expired or older index. The serial is the first-parent commit count
    of REF (needs the full history, not a shallow clone). Without --key or --key-env the index is written
    unsigned, with a warning: its digest then only detects corruption, not an attacker.
    publish.yml builds and signs it on every push to main and re-signs it daily.

    \b
    Examples:
      mlgate index --generate-key index-key      # once: index-key (secret) and index-key.pub
      mlgate index --ref main --key index-key -o registry-index.json
      MLGATE_INDEX_KEY="$(cat index-key)" mlgate index --ref main --key-env MLGATE_INDEX_KEY --expires-in 2d -o registry-index.json
      mlgate index --ref main --sharded -o registry-index                       # registry-index/index.json + shards/
      mlgate index --ref main --sharded --previous registry-index/index.json -o registry-index   # incremental
      mlgate index --ref main --key index-key --sharded --previous s3://acme-ml/index/index.json -o s3://acme-ml/index
    """
    from mlgate.errors import UsageError
    from mlgate.registry.index import build_index, generate_key, load_signing_key, write_index
    from mlgate.render.report import to_json

    if generate:
        if key_file or key_env or output or ref:
            raise UsageError("--generate-key creates a key pair and nothing else; run mlgate index again to sign")
        pair = generate_key(generate)
        _echo(
            f"wrote {pair.private} (private: keep it secret, e.g. as the CI secret MLGATE_INDEX_KEY) and "
            f"{pair.public} (public: give it to serving as a trusted key); key id {pair.keyid[:16]}"
        )
        return EXIT_OK
    if previous is not None and ref is None:
        raise UsageError("--previous needs --ref REF: the changes are those between two commits")
    if sharded:
        return _index_sharded(obj, ref, output, load_signing_key(key_file, key_env), expires_in, previous)
    if output:
        from mlgate.registry.index import check_output

        check_output(output)  # a missing store package said before the build, not after
    notes: list[str] = []
    data = build_index(
        obj.repo, ref, key=load_signing_key(key_file, key_env), expires_in=expires_in, previous=previous, notes=notes
    )
    for note in notes:
        click.echo(f"mlgate: note: {note}", err=True)
    signed = f"signed by key {data['signatures'][0]['keyid'][:16]}" if "signatures" in data else "UNSIGNED"
    if "signatures" not in data:
        click.echo(
            "mlgate: warning: the index is NOT signed (no --key or --key-env): serving with trusted keys refuses "
            "it, and without keys its digest detects corruption, not an attacker",
            err=True,
        )
    if output:
        write_index(data, output)
        _echo(
            f"wrote {output}: {len(data['models'])} models, serial {data['serial']}, expires {data['expires']}, "
            f"{signed}, digest {data['digest'][:12]}",
            err=True,
        )
    else:
        _out(to_json(data))
    return EXIT_OK


def _index_sharded(
    obj: Context, ref: str | None, output: str | None, key: Any, expires_in: str, previous: str | None
) -> int:
    from mlgate.errors import UsageError
    from mlgate.registry.index import build_sharded, check_folder, write_sharded

    if not output:
        raise UsageError("--sharded writes a folder: give it with -o DIR")
    check_folder(output)
    notes: list[str] = []
    built = build_sharded(obj.repo, ref, key=key, expires_in=expires_in, previous=previous, notes=notes)
    for note in notes:
        click.echo(f"mlgate: note: {note}", err=True)
    if key is None:
        click.echo(
            "mlgate: warning: the index is NOT signed (no --key or --key-env): serving with trusted keys refuses "
            "it, and without keys its digest detects corruption, not an attacker",
            err=True,
        )
    write_sharded(built, output)
    signed = f"signed by key {str(built.keyid)[:16]}" if key is not None else "UNSIGNED"
    from mlgate.infra.store import is_remote
    from mlgate.registry.remote_index import folder_of

    _echo(
        f"wrote {folder_of(output) if is_remote(output) else output}/index.json: {len(built.models)} models ({len(built.shards)} shards written), serial "
        f"{built.payload['serial']}, expires {built.payload['expires']}, {signed}, digest {built.digest[:12]}",
        err=True,
    )
    return EXIT_OK


@cli.command()
@click.argument("selector", required=False, metavar="[MODEL[@ALIAS|/VERSION]]")
@_ref_option
@_json_option
@click.pass_obj
def verify(obj: Context, selector: str | None, ref: str | None, as_json: bool) -> int:
    """Stream artifacts from their store and check size and sha256 against the registry.

    Exits 1 if any artifact differs from what the registry recorded or cannot be read.

    \b
    Examples:
      mlgate verify fraud-detector@champion
      mlgate verify models:/fraud-detector/2
      mlgate verify --ref main --json
    """
    from mlgate.registry.artifacts import verify as do_verify
    from mlgate.registry.names import resolve_target
    from mlgate.registry.snapshot import Registry
    from mlgate.render.report import to_json

    reg = Registry.open(obj.repo, ref)
    if selector is not None:  # checked here, with a did-you-mean, before anything is streamed
        selector = str(resolve_target(reg, selector))
    bar = progress_bar("verifying")
    try:
        results = do_verify(reg, selector, progress=bar)
    finally:
        bar.close()
    if as_json:
        _out(to_json([r.to_dict() for r in results]))
    else:
        for r in results:
            _echo(f"{r.status.upper():<10} {r.model} v{r.version}  {r.uri}\n           {r.detail}")
        bad = sum(r.status != "ok" for r in results)
        _echo(f"{len(results) - bad} of {len(results)} artifacts verified" + (f"; {bad} failed" if bad else ""))
    return EXIT_OK if all(r.status == "ok" for r in results) else EXIT_CHECK_FAILED


@cli.command()
@click.argument("rule", required=False)
def rules(rule: str | None) -> int:
    """Explain the validator's rule ids (all of them, or one, with where its check lives).

    \b
    Examples:
      mlgate rules
      mlgate rules MG403      # the rule, its family, and the module that holds its check
    """
    from mlgate.check.rules import RULES, source_of
    from mlgate.errors import UsageError

    if rule is None:
        for r in RULES.values():
            _echo(f"{r} {r.name} ({r.family}): {r.doc}")
        return EXIT_OK
    found = RULES.get(rule.strip().upper())
    if found is None:
        raise UsageError(f"unknown rule {rule!r}; rules: {', '.join(RULES)}")
    _echo(f"{found} {found.name}: {found.doc}")
    _echo(f"  family:   {found.family}")
    _echo(f"  severity: {found.severity}")
    _echo(f"  checked in {source_of(found)}")
    return EXIT_OK


@cli.command()
@click.option(
    "--keep",
    "keep",
    metavar="DIR",
    type=click.Path(file_okay=False),
    help="Build the demo repository in DIR (must not exist) and keep it, instead of a temporary folder.",
)
def demo(keep: str | None) -> int:
    """Run the registry's main job on a throwaway repository, step by step.

    With the local forge: mlgate init, register v1 and v2 (each a pull request,
    merged), promote v1 to champion (approved, merged), promote v2 (merge refused
    with one approval, then approved, merged), resolve, roll back by revert,
    resolve again, and the audit history. Takes about a second.

    \b
    Example:
      mlgate demo
      mlgate demo --keep ./demo-registry     # keep the repository to explore
    """
    from mlgate.demo import run_demo

    return run_demo(keep, echo=click.echo)
