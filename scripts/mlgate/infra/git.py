"""The one module that runs git: a repository, and trees read straight from git objects.

Trees and blobs are read through one long-lived ``git cat-file --batch-command``
process per repository: no checkout, and no process per file. (GitPython did
this before; its tree parsing cost 1.5 s to list 100 models and its import 64 ms
of every command's start, so mlgate talks to git's plumbing directly.)
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Callable, Final, Iterable, Iterator, Literal, NamedTuple

from mlgate.errors import FileTooLarge as FileTooLarge  # re-exported
from mlgate.errors import GitError, InputError
from mlgate.errors import LockBusy as LockBusy  # re-exported

#: what a tree entry is
EntryKind = Literal["file", "symlink", "dir", "other"]
FILE: Final = "file"
SYMLINK: Final = "symlink"
DIR: Final = "dir"
OTHER: Final = "other"
ZERO = "0" * 40


def _identity_env(author: str, committer: str | None = None, date: str | None = None) -> dict[str, str]:
    def split(who: str) -> tuple[str, str]:
        name, _, email = who.partition(" <")
        return name, email.rstrip(">") or f"{name}@users.noreply.localhost"

    an, ae = split(author)
    cn, ce = split(committer or author)
    env = {"GIT_AUTHOR_NAME": an, "GIT_AUTHOR_EMAIL": ae, "GIT_COMMITTER_NAME": cn, "GIT_COMMITTER_EMAIL": ce}
    if date:
        env.update(GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
    return env


@dataclass(frozen=True)
class Entry:
    """A path in a tree: its kind (file, symlink, dir, other) and git object id when known."""

    kind: EntryKind
    oid: str | None = None
    mode: str = ""  # git's octal mode as written in the tree ("100644", "40000"...), when read from git


def _oid(entry: Entry) -> str:
    """The object id of an entry read from (or just written to) git, which always has one."""
    assert entry.oid is not None, entry
    return entry.oid


def _kind_of_mode(mode: int) -> EntryKind:
    if stat.S_ISLNK(mode):
        return SYMLINK
    if stat.S_ISDIR(mode):
        return DIR
    if stat.S_ISREG(mode):
        return FILE
    return OTHER  # 0o160000: a submodule


def find_root(path: str | os.PathLike[str]) -> str:
    """The repository root for ``path``: the nearest folder with a ``.git``, or ``path`` itself outside git."""
    p = os.path.abspath(path)
    probe = p
    while True:
        if os.path.exists(os.path.join(probe, ".git")):
            return probe
        parent = os.path.dirname(probe)
        if parent == probe:
            return p
        probe = parent


class GitRepo:
    """A git repository on disk."""

    def __init__(self, path: str | os.PathLike[str] = ".") -> None:
        where = os.fspath(path)
        if not os.path.isdir(where):
            raise GitError(f"{where} is not inside a git repository (no such folder)")
        proc = subprocess.run(
            ["git", "rev-parse", "--is-bare-repository", "--show-object-format", "--show-toplevel", "--git-common-dir"],
            cwd=where,
            capture_output=True,
            text=True,
        )
        lines = proc.stdout.splitlines()
        if proc.returncode != 0 or not lines:
            raise GitError(f"{where} is not inside a git repository")
        if lines[0] == "true" or len(lines) < 3:
            raise GitError(f"{where} is a bare repository; mlgate needs a work tree")
        self.id_width = 32 if lines[1] == "sha256" else 20
        self.root = Path(lines[2])
        common = Path(where, lines[3]) if len(lines) > 3 else None
        self._common = common.resolve() if common is not None else None

    @cached_property
    def objects(self) -> ObjectReader:
        """The repository's long-lived object reader (started on first use)."""
        return ObjectReader(self.root)

    @classmethod
    def init(cls, path: str | os.PathLike[str], branch: str = "main") -> GitRepo:
        """Create a new repository at ``path`` whose first branch is ``branch``."""
        os.makedirs(path, exist_ok=True)
        proc = subprocess.run(
            ["git", "init", "--quiet", f"--initial-branch={branch}", os.fspath(path)], capture_output=True, text=True
        )
        if proc.returncode != 0:
            raise GitError(f"git init failed: {proc.stderr.strip()}")
        return cls(path)

    def close(self) -> None:
        if "objects" in self.__dict__:
            self.objects.close()

    def commit_all(
        self,
        message: str,
        author: str = "mlgate <mlgate@localhost>",
        *,
        committer: str | None = None,
        date: str | None = None,
    ) -> str:
        """Stage every change in the work tree and commit it; returns the new commit sha."""
        self.git("add", "--all")
        self._plumb(
            "commit",
            "--quiet",
            "--no-verify",
            "--allow-empty",
            "-m",
            message,
            env=_identity_env(author, committer, date),
        )
        return self.resolve("HEAD")

    def merge(
        self, branch: str, message: str, author: str = "mlgate <mlgate@localhost>", *, date: str | None = None
    ) -> str:
        """Merge ``branch`` into the checked-out branch with a merge commit, as a forge does."""
        self._plumb(
            "merge", "--quiet", "--no-ff", "--no-edit", "-m", message, branch, env=_identity_env(author, None, date)
        )
        return self.resolve("HEAD")

    # --- writing without a checkout ---------------------------------------------
    #
    # register, promote, rollback and the local forge's merge build commits with a
    # temporary index and move refs with compare-and-swap: the user's work tree,
    # index and current branch are never touched, and a ref only ever moves from the
    # value we read, so a concurrent change makes us fail instead of overwrite.

    def _plumb(self, *args: str, env: dict[str, str] | None = None, stdin: bytes | None = None) -> str:
        proc = subprocess.run(
            ["git", *args],
            cwd=self.root,
            input=stdin,
            capture_output=True,
            env={**os.environ, **(env or {})},
        )
        if proc.returncode != 0:
            raise GitError(f"git {args[0]} failed: {proc.stderr.decode(errors='replace').strip()}")
        return proc.stdout.decode()

    def write_commit(
        self, parents: list[str], files: dict[str, bytes | None], message: str, author: str, tree: str | None = None
    ) -> str:
        """A commit on ``parents[0]`` with ``files`` changed (None deletes), or with ``tree`` as is.

        Only the trees on the paths of the changed files are rewritten (a handful of small objects),
        so the cost does not grow with the size of the repository.
        """
        if tree is None:
            base_tree = self.objects.contents(f"{parents[0]}^{{tree}}")
            root = self._plumb("rev-parse", f"{parents[0]}^{{tree}}").strip() if base_tree else None
            tree = self._rewrite_tree(root, {path: data for path, data in files.items()}) or self._empty_tree()
        args = ["commit-tree", tree]
        for p in parents:
            args += ["-p", p]
        return self._plumb(*args, "-F", "-", env=_identity_env(author), stdin=message.encode()).strip()

    def _empty_tree(self) -> str:
        return self._plumb("hash-object", "-w", "-t", "tree", "--stdin", stdin=b"").strip()

    def _rewrite_tree(self, tree: str | None, changes: dict[str, bytes | None]) -> str | None:
        """``tree`` with ``changes`` (paths relative to it) applied; None when it ends up empty."""
        got = self.objects.contents(tree) if tree else None
        entries = dict(parse_tree(got[1], self.id_width)) if got and got[0] == "tree" else {}
        here: dict[str, bytes | None] = {}
        below: dict[str, dict[str, bytes | None]] = {}
        for path, data in changes.items():
            head, sep, rest = path.partition("/")
            if sep:
                below.setdefault(head, {})[rest] = data
            else:
                here[head] = data
        for name, data in here.items():
            if data is None:
                entries.pop(name, None)
            else:
                oid = self._plumb("hash-object", "-w", "--stdin", stdin=data).strip()
                entries[name] = Entry(FILE, oid, "100644")
        for name, sub in below.items():
            current = entries.get(name)
            child = self._rewrite_tree(current.oid if current and current.kind == DIR else None, sub)
            if child is None:
                entries.pop(name, None)
            else:
                entries[name] = Entry(DIR, child, "40000")
        if not entries:
            return None
        # git orders tree entries by name, a folder's name compared as if it ended with "/"
        order = sorted(
            entries, key=lambda n: n.encode("utf-8", "surrogateescape") + (b"/" if entries[n].kind == DIR else b"")
        )
        raw = b"".join(
            f"{entries[n].mode or ('40000' if entries[n].kind == DIR else '100644')} ".encode()
            + n.encode("utf-8", "surrogateescape")
            + b"\0"
            + bytes.fromhex(_oid(entries[n]))
            for n in order
        )
        return self._plumb("hash-object", "-w", "-t", "tree", "--stdin", stdin=raw).strip()

    def merge_tree(self, base: str, head: str) -> str | None:
        """The tree of merging ``head`` into ``base`` (no checkout), or None on conflicts."""
        proc = subprocess.run(
            ["git", "merge-tree", "--write-tree", base, head], cwd=self.root, capture_output=True, text=True
        )
        if proc.returncode == 1:
            return None
        if proc.returncode != 0:
            raise GitError(f"git merge-tree failed: {proc.stderr.strip()}")
        return proc.stdout.split()[0]

    def branch_sha(self, branch: str) -> str | None:
        """Where ``branch`` points, or None if there is no such branch."""
        proc = subprocess.run(
            ["git", "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}^{{commit}}"],
            cwd=self.root,
            capture_output=True,
            text=True,
        )
        return proc.stdout.strip() or None

    def set_branch(self, branch: str, new: str, old: str | None) -> None:
        """Move ``branch`` to ``new`` only if it is at ``old`` (None: create it; it must not exist)."""
        self._plumb("check-ref-format", "--branch", branch)
        self._plumb("update-ref", "-m", "mlgate", f"refs/heads/{branch}", new, old or ZERO)

    def delete_branch(self, branch: str, expected: str) -> None:
        """Delete ``branch`` only if it still points at ``expected``."""
        self._plumb("update-ref", "-d", f"refs/heads/{branch}", expected)

    def current_branch(self) -> str | None:
        proc = subprocess.run(
            ["git", "symbolic-ref", "--quiet", "--short", "HEAD"], cwd=self.root, capture_output=True, text=True
        )
        return proc.stdout.strip() or None

    def is_clean(self) -> bool:
        return self._plumb("status", "--porcelain", "--untracked-files=no") == ""

    def update_checkout(self, old: str, new: str) -> None:
        """Bring the index and work tree from commit ``old`` to ``new`` (after HEAD's branch moved)."""
        self._plumb("read-tree", "-m", "-u", old, new)

    def has_remote(self, name: str = "origin") -> bool:
        return name in self._plumb("remote").split()

    def push(self, branch: str, remote: str = "origin", *, create_only: bool = False) -> bool:
        """Push ``branch`` to the same name on ``remote``; True if this push created the remote branch.

        With ``create_only`` the push is a compare-and-swap on the remote too: it is refused
        (:class:`GitError`) when the remote branch exists at another commit, and returns False
        when it is already at this very commit (someone else pushed it).
        """
        ref = f"refs/heads/{branch}"
        lease = [f"--force-with-lease={ref}:"] if create_only else []
        out = self._plumb("push", "--porcelain", *lease, remote, f"{ref}:{ref}")
        # porcelain lines are "<flag>\t<from>:<to>\t<summary>"; flag "*" is a new ref, "=" already up to date
        flags = [
            fields[0]
            for fields in (line.split("\t") for line in out.splitlines())
            if len(fields) > 1 and fields[1].endswith(f":{ref}")
        ]
        return "*" in flags

    def remote_branch_sha(self, branch: str, remote: str = "origin") -> str | None:
        """Where ``branch`` points on ``remote`` (asks the remote), or None if it has no such branch."""
        out = self._plumb("ls-remote", "--refs", remote, f"refs/heads/{branch}")
        for line in out.splitlines():
            sha, _, ref = line.partition("\t")
            if ref == f"refs/heads/{branch}":
                return sha
        return None

    def delete_remote_branch(self, branch: str, expected: str, remote: str = "origin") -> None:
        """Delete ``branch`` on ``remote`` only if it still points at ``expected`` (a lease)."""
        ref = f"refs/heads/{branch}"
        self._plumb("push", "--quiet", f"--force-with-lease={ref}:{expected}", remote, f":{ref}")

    def git_dir(self) -> Path:
        return Path(self._plumb("rev-parse", "--absolute-git-dir").strip())

    def common_dir(self) -> Path:
        """The git directory that every worktree of this repository shares (where refs live)."""
        if self._common is not None:  # asked once, when the repository was opened
            return self._common
        common = Path(self._plumb("rev-parse", "--git-common-dir").strip())
        return common if common.is_absolute() else (self.root / common).resolve()

    @contextmanager
    def lock(self, name: str, *, wait: bool) -> Iterator[None]:
        """Hold the lock ``name`` shared by every process working on this repository (all its worktrees).

        An advisory ``flock`` on ``<common git dir>/mlgate/locks/<name>.lock``: the kernel releases it
        when the process ends, so a killed run never leaves a stale lock. With ``wait=False`` a lock
        held by another process raises :class:`LockBusy` at once instead of waiting.
        """
        import fcntl
        from urllib.parse import quote

        folder = self.common_dir() / "mlgate" / "locks"
        path = folder / f"{quote(name, safe='')}.lock"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise GitError(f"cannot create the lock file {path}: {e.strerror or e}") from None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                raise LockBusy(name, path) from None
            yield
        finally:
            os.close(fd)  # closing the last descriptor releases the lock

    def subject(self, commit: str) -> str:
        """A commit's title; for a forge's merge commit, the pull request's title (its body's first line)."""
        subject, _, body = self._plumb("log", "-1", "--format=%s%n%b", commit).partition("\n")
        if subject.startswith("Merge pull request #") and body.strip():
            return body.strip().splitlines()[0]
        return subject.strip()

    def user_name(self) -> str | None:
        proc = subprocess.run(["git", "config", "user.name"], cwd=self.root, capture_output=True, text=True)
        return proc.stdout.strip() or None

    def switch(self, branch: str, create: bool = False) -> None:
        """Check out ``branch`` (creating it from HEAD when ``create``)."""
        self.git("switch", "--quiet", *(["-c"] if create else []), branch)

    def resolve(self, ref: str) -> str:
        """The full commit sha that ``ref`` names."""
        if not ref or ref.startswith("-"):
            raise GitError(f"unknown git ref {ref!r}: no commit by that name in {self.root}")
        proc = subprocess.run(
            ["git", "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"],
            cwd=self.root,
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0 or not proc.stdout.strip():
            raise GitError(f"unknown git ref {ref!r}: no commit by that name in {self.root}")
        return proc.stdout.strip()

    def tree(self, ref: str) -> GitTree:
        return GitTree(self, ref)

    def git(self, *args: str) -> str:
        """Run a git command in the repository and return its output; :class:`GitError` if it fails."""
        return self._plumb(*args)

    def changed_paths(self, base: str, head: str | None, prefix: str | tuple[str, ...]) -> dict[str, str]:
        """Paths under ``prefix`` (one or several pathspecs) that differ between commit ``base`` and ``head``.

        ``head`` None means the working tree (staged, unstaged and untracked
        files). Values are git status letters: ``A`` added, ``M`` modified,
        ``D`` deleted, ``T`` type changed.
        """
        specs = [prefix] if isinstance(prefix, str) else list(prefix)
        if head is None:
            out = self.git("diff", "--no-renames", "--name-status", "-z", base, "--", *specs)
        else:
            out = self.git("diff-tree", "-r", "--no-renames", "--name-status", "-z", base, head, "--", *specs)
        parts = out.split("\0")
        changes = {parts[i + 1]: parts[i][0] for i in range(0, len(parts) - 1, 2) if parts[i]}
        if head is None:
            untracked = self.git("ls-files", "-z", "--others", "--exclude-standard", "--", *specs)
            changes.update({p: "A" for p in untracked.split("\0") if p})
        return changes

    def file_history(
        self, commit: str, path: str, since: str | None = None, limit: int | None = None
    ) -> list[tuple[str, bytes | None]]:
        """``path``'s content at each first-parent commit that changed it (after ``since``), newest first.

        One ``git log`` process for the list; contents through the long-lived
        ``cat-file`` reader. None where the commit deleted the file.
        """
        window = ([f"--since={since}"] if since else []) + ([f"--max-count={limit}"] if limit else [])
        out = self.git("log", "--first-parent", *window, "--format=%H", commit, "--", path)
        found: list[tuple[str, bytes | None]] = []
        for sha in out.split():
            got = self.objects.contents(f"{sha}:{path}")
            found.append((sha, got[1] if got and got[0] == "blob" else None))
        return found

    def commit_header(self, sha: str) -> tuple[list[str], int] | None:
        """A commit's parents and committer time (epoch seconds), or None when ``sha`` is no commit here.

        ``sha`` must be a full object id: an abbreviation or a ref name is refused, so a claim made in a
        commit message names exactly one object.
        """
        if not re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", sha) or len(sha) != self.id_width * 2:
            return None
        got = self.objects.contents(sha)
        if got is None or got[0] != "commit":
            return None
        parents: list[str] = []
        when = 0
        for line in got[1].split(b"\n"):
            if not line:
                break  # the end of the header: the message follows
            key, _, value = line.partition(b" ")
            if key == b"parent":
                parents.append(value.decode())
            elif key == b"committer":
                try:
                    when = int(value.rsplit(b" ", 2)[-2])
                except (ValueError, IndexError):
                    when = 0
        return parents, when

    def on_first_parent_chain(self, tip: str, sha: str, since: int) -> bool:
        """Whether commit ``sha`` is ``tip`` or one of its first-parent ancestors committed after ``since``.

        One ``git rev-list --first-parent --since``, which stops at the first commit older than ``since``
        (it does not walk the whole history): the cost follows how far back ``sha`` is, not how long the
        history is. A commit outside the window is reported absent (the caller then assumes the worse case).
        """
        # git reads "@<seconds>" as a time only from 1973 on (a smaller number means something else to it):
        # for an earlier commit, the whole first-parent history
        window = [f"--since=@{since}"] if since >= 100_000_000 else []
        out = self.git("rev-list", "--first-parent", *window, tip)
        return sha in out.split()

    def messages(self, base: str, head: str, limit: int) -> list[str] | None:
        """The messages of the commits in ``head`` that ``base`` lacks (a pull request's commits), newest
        first; None when there are more than ``limit`` of them."""
        out = self.git("log", f"--max-count={limit + 1}", "--format=%B%x00", head, "--not", base, "--")
        found = [m.strip("\n") for m in out.split("\0")[:-1]]
        return None if len(found) > limit else found

    def log_changes(
        self,
        ref: str,
        paths: list[str],
        *,
        exclude: str | None = None,
        on_commits: Callable[[list[Commit]], None] | None = None,
        suffix: str = "",
        skip: str | None = None,
    ) -> list[Commit]:
        """First-parent history of ``ref`` touching ``paths``, oldest first, with changed files (all the
        segments of :meth:`log_segments`)."""
        segments = self.log_segments(ref, paths, exclude=exclude, on_commits=on_commits, suffix=suffix, skip=skip)
        return [c for segment in segments for c in segment]

    def log_segments(
        self,
        ref: str,
        paths: list[str],
        *,
        exclude: str | None = None,
        on_commits: Callable[[list[Commit]], None] | None = None,
        suffix: str = "",
        skip: str | None = None,
        size: int = 500,
        jobs: int = 0,
    ) -> Iterator[list[Commit]]:
        """First-parent history of ``ref`` touching ``paths``, with changed files, oldest first, in segments of
        about ``size`` commits, each given as soon as git has written it (while it walks on), so that the
        caller's work on one overlaps git's: one ``git log --reverse`` (which lists the commits, a
        small part of its work, then writes each with its diff as it computes it), drained by a thread into
        memory, so that git never waits for the caller.

        With ``exclude`` (a commit), only the commits ``exclude`` lacks (the history since it, when it is on
        ``ref``'s first-parent chain). ``on_commits`` is called with the commits that changed a file under
        ``paths`` as soon as they are parsed (before the caller gets them), so that what they need next can be
        asked for at once. Only files under ``paths`` (ending with ``suffix``, not with ``skip``) are kept; a
        pathspec is passed to git only when it narrows the walk below the top folder (git's own path limiting
        costs more than it saves for a whole-registry log).

        A path-limited walk (few commits to write, git's comparisons of every commit to do) of a long chain is
        cut into ``jobs`` runs (default: one per CPU, at most 4), walked in parallel, given as one segment.
        """
        import queue
        import threading

        tip = ref if re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", ref) else self.resolve(ref)
        narrow = [p for p in paths if p.strip("/").count("/") >= 1]
        keep = tuple(paths)
        jobs = jobs or min(4, _cpus())
        if narrow and jobs > 1:
            chain = self.git("rev-list", "--first-parent", tip, *([f"^{exclude}"] if exclude else [])).split()
            if len(chain) >= _SPLIT_FROM:
                from concurrent.futures import ThreadPoolExecutor

                step = -(-len(chain) // jobs)
                cuts = chain[::step]
                bounds = [(c, cuts[n + 1] if n + 1 < len(cuts) else exclude) for n, c in enumerate(cuts)]

                def run(bound: tuple[str, str | None]) -> list[Commit]:
                    part = self.log_segments(
                        bound[0], paths, exclude=bound[1], on_commits=on_commits, suffix=suffix, skip=skip, jobs=1
                    )
                    return [c for segment in part for c in segment]

                with ThreadPoolExecutor(max_workers=len(bounds)) as pool:
                    runs = list(pool.map(run, bounds))
                found = [c for commits in reversed(runs) for c in commits]
                if found:
                    yield found
                return
        fmt = "%x1e%H%x1f%P%x1f%an%x1f%ae%x1f%cn%x1f%cI%x1f%s%x1f%b%x1d"
        args = ["git", "log", "--first-parent", "--diff-merges=first-parent", "--raw", "--no-abbrev", "--no-renames"]
        args += ["--no-color", "--reverse", f"--format={fmt}", tip, *([f"^{exclude}"] if exclude else [])]
        if narrow:
            args += ["--", *narrow]
        proc = subprocess.Popen(args, cwd=self.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdout is not None and proc.stderr is not None  # both piped
        stdout, stderr = proc.stdout, proc.stderr
        _widen_pipe(stdout.fileno())
        chunks: queue.SimpleQueue[bytes] = queue.SimpleQueue()
        errors: list[bytes] = []

        def drain() -> None:
            try:
                while data := os.read(stdout.fileno(), 1 << 18):
                    chunks.put(data)
                errors.append(stderr.read())
            except (OSError, ValueError):
                pass  # closed under us: the caller stopped reading
            finally:
                chunks.put(b"")

        reader = threading.Thread(target=drain, daemon=True)
        reader.start()
        try:
            pending: list[bytes] = []  # the start of a record still being written (a long one spans chunks)
            batch: list[Commit] = []
            while True:
                chunk = chunks.get()
                cut = chunk.rfind(b"\x1e")
                if chunk and cut <= 0:
                    pending.append(chunk)
                    continue
                data = b"".join([*pending, chunk[:cut] if chunk else b""])
                pending = [chunk[cut:]] if chunk else []
                parsed = [
                    _parse_record(r.decode("utf-8", errors="replace"), keep, suffix, skip)
                    for r in data.split(b"\x1e")
                    if r
                ]
                if on_commits is not None and parsed:
                    on_commits([c for c in parsed if c.files])
                batch += parsed
                if not chunk:
                    break
                if len(batch) >= size:
                    yield batch
                    batch = []
            reader.join()
            if proc.wait() != 0:
                raise GitError(f"git log failed: {b''.join(errors).decode(errors='replace').strip()}")
            if batch:
                yield batch
        finally:
            if proc.poll() is None:
                proc.kill()  # the caller stopped early: git's walk ends here
            reader.join()
            stdout.close()
            stderr.close()
            proc.wait()

    def batch_reader(self) -> BatchReader:
        """A reader of many objects asked for while other work goes on (see :class:`BatchReader`)."""
        return BatchReader(self.root)

    def read_blobs(self, oids: list[str]) -> dict[str, bytes]:
        """Many objects' contents in one round of the object reader (ids written while contents are read)."""
        return self.objects.read_many(oids)


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))  # the CPUs this process may use (a container's share)
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


#: a path-limited walk of a first-parent chain this long is cut into parallel runs (below, one costs less)
_SPLIT_FROM = 2000


def _widen_pipe(fd: int) -> None:
    """Let git write ahead of its reader: a 1 MiB pipe (Linux's largest for a process without privileges)
    instead of 64 KiB, so that a busy reader does not stall git's walk."""
    try:
        import fcntl

        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
    except (ImportError, OSError):
        pass  # another system, or a lower limit: git waits a little more


#: a line of ``git log --raw --no-abbrev``: modes, old and new ids, status (a letter, a score for R/C), path
_RAW = re.compile(r"^:[0-7]+ [0-7]+ ([0-9a-f]+) ([0-9a-f]+) ([A-Z])[0-9]*\t(.*)$", re.M)


_ZEROS = frozenset((ZERO, "0" * 64))  # the id git writes for "no file" (sha1, sha256)


def _parse_record(record: str, keep: tuple[str, ...], suffix: str = "", skip: str | None = None) -> Commit:
    header, _, raw = record.partition("\x1d")
    sha, parents, an, ae, cn, date, subject, body = header.split("\x1f")
    files = tuple(
        FileChange(path, status, None if old in _ZEROS else old, None if new in _ZEROS else new)
        for old, new, status, path in _RAW.findall(raw)
        if path.startswith(keep) and path.endswith(suffix) and not (skip and path.endswith(skip))
    )
    return Commit(sha, tuple(parents.split()), an, ae, cn, date, subject, body.strip(), files)


class FileChange(NamedTuple):
    """One file a commit changed: status A/M/D/T and the blob ids before and after."""

    path: str
    status: str
    old: str | None
    new: str | None


class Commit(NamedTuple):
    """A commit of a log, with the files it changed (a tuple: a long history's log makes tens of thousands)."""

    sha: str
    parents: tuple[str, ...]
    author: str
    author_email: str
    committer: str
    date: str  # committer date, ISO 8601 with offset
    subject: str
    body: str
    files: tuple[FileChange, ...] = ()


def parse_tree(data: bytes, width: int = 20) -> dict[str, Entry]:
    """A raw tree object's entries: ``<mode> <name>\\0<binary id>`` each (ids of ``width`` bytes)."""
    entries: dict[str, Entry] = {}
    i, n = 0, len(data)
    while i < n:
        space = data.index(b" ", i)
        nul = data.index(b"\0", space)
        mode = int(data[i:space], 8)
        name = data[space + 1 : nul].decode("utf-8", errors="surrogateescape")
        entries[name] = Entry(_kind_of_mode(mode), data[nul + 1 : nul + 1 + width].hex(), data[i:space].decode())
        i = nul + 1 + width
    return entries


class ObjectReader:
    """The one reader of git objects: a long-lived ``git cat-file --batch-command`` process.

    Used by the repository (``cwd`` a work tree) and by serving's git source (``git_dir`` a bare cache).
    One request at a time (a lock), or many in one round (:meth:`read_many`), whose requests are written by a
    thread while the answers are read, so a pipe never fills up.
    """

    def __init__(self, root: Path | None = None, *, git_dir: Path | None = None) -> None:
        import threading
        import weakref

        args = ["git", "--git-dir", str(git_dir)] if git_dir is not None else ["git"]
        self.proc = subprocess.Popen(
            [*args, "cat-file", "--batch-command"],
            cwd=root,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.lock = threading.Lock()
        self._finalizer = weakref.finalize(self, _end_process, self.proc)

    def _header(self) -> list[bytes] | None:
        assert self.proc.stdout is not None
        header = self.proc.stdout.readline().split()
        if len(header) < 3 or header[-1] == b"missing" or header[1] in (b"missing", b"ambiguous"):
            return None
        return header

    def _ask(self, command: str, name: str) -> list[bytes] | None:
        if "\n" in name:
            return None
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{command} {name}\n".encode())
        self.proc.stdin.flush()
        return self._header()

    def _body(self, size: int) -> bytes:
        assert self.proc.stdout is not None
        data = self.proc.stdout.read(size)
        self.proc.stdout.read(1)  # the newline after the contents
        return data

    def info(self, name: str) -> tuple[str, int] | None:
        """(type, size) of an object, without reading it."""
        with self.lock:
            header = self._ask("info", name)
        return (header[1].decode(), int(header[2])) if header else None

    def contents(self, name: str) -> tuple[str, bytes] | None:
        """(type, bytes) of an object named by id or ``<rev>:<path>``, or None."""
        with self.lock:
            header = self._ask("contents", name)
            if header is None:
                return None
            data = self._body(int(header[2]))
        return header[1].decode(), data

    def read_many(self, names: list[str]) -> dict[str, bytes]:
        """The contents of many objects by id, in one round; missing ones are left out."""
        import threading

        wanted = list(dict.fromkeys(n for n in names if "\n" not in n))
        stdin = self.proc.stdin
        assert stdin is not None

        def ask() -> None:
            for name in wanted:
                stdin.write(f"contents {name}\n".encode())
            stdin.flush()

        found: dict[str, bytes] = {}
        with self.lock:
            writer = threading.Thread(target=ask, daemon=True)
            writer.start()
            for name in wanted:
                header = self._header()
                if header is not None:
                    found[name] = self._body(int(header[2]))
            writer.join()
        return found

    def close(self) -> None:
        self._finalizer()


class BatchReader:
    """Many objects read by one ``git cat-file --batch`` while they are asked for: ids are written as they
    become known (from any thread), a thread drains the answers, and :meth:`answers` gives every object asked
    for so far once it is answered (asking more after is allowed).

    History asks for each merged branch's head commit while ``git log`` is still walking, so cat-file's work
    overlaps git's; the answers are parsed from one buffer (no round trip per object).
    """

    def __init__(self, root: Path) -> None:
        import threading
        import weakref

        self.proc = subprocess.Popen(
            ["git", "cat-file", "--batch"],
            cwd=root,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self._asked: list[str] = []
        self._seen: set[str] = set()
        self._found: dict[str, bytes] = {}
        self._done = 0  # how many of _asked are answered (and parsed)
        self._buf = bytearray()
        self._at = 0  # where the next answer starts in _buf
        self._eof = False
        self._broken: OSError | None = None
        self._lock = threading.Lock()  # the asking side: _asked, _seen, stdin
        self._ready = threading.Condition()  # the answering side: _buf, _eof
        self._drain = threading.Thread(target=self._read, daemon=True)
        self._drain.start()
        self._finalizer = weakref.finalize(self, _end_process, self.proc)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        try:
            while chunk := os.read(fd, 1 << 20):
                with self._ready:
                    self._buf += chunk
                    self._ready.notify_all()
        except (OSError, ValueError):
            pass  # closed under us (close() after a failure): the answers are not wanted any more
        finally:
            with self._ready:
                self._eof = True
                self._ready.notify_all()

    def ask(self, oids: Iterable[str]) -> None:
        """Ask for objects by full id (each once; anything else is ignored)."""
        with self._lock:
            new = [o for o in oids if o not in self._seen and _FULL_ID.fullmatch(o)]
            if not new:
                return
            self._seen.update(new)
            self._asked += new
            assert self.proc.stdin is not None
            try:
                self.proc.stdin.write("".join(o + "\n" for o in new).encode())
            except OSError as e:  # cat-file is gone: answers() says so
                self._broken = e

    def _parse(self, upto: int) -> None:
        """Parse the answers in the buffer, up to the ``upto``-th object asked (the caller holds _ready)."""
        buf, at, asked, found = self._buf, self._at, self._asked, self._found
        done = self._done
        while done < upto:
            end = buf.find(b"\n", at)
            if end < 0:
                break
            oid = asked[done]
            # "<id> <type> <size>", or "<id> missing" (or ambiguous), with no contents after it
            last = buf.rfind(b" ", at, end)
            if buf.count(b" ", at, end) == 2 and buf.startswith(oid.encode(), at):
                size = int(buf[last + 1 : end])
                if len(buf) < end + 2 + size:
                    break  # the contents are still coming
                found[oid] = bytes(buf[end + 1 : end + 1 + size])
                at = end + 2 + size  # the contents, and the newline after them
            else:
                at = end + 1
            done += 1
        self._done = done
        if at > 1 << 22:  # let go of what is parsed
            del buf[:at]
            at = 0
        self._at = at

    def answers(self) -> dict[str, bytes]:
        """Every object asked for so far that exists, by id (waits for cat-file to answer them)."""
        with self._lock:
            upto = len(self._asked)
            assert self.proc.stdin is not None
            try:
                self.proc.stdin.flush()
            except OSError as e:
                self._broken = e
        with self._ready:
            while True:
                self._parse(upto)
                if self._done >= upto:
                    return self._found
                if self._eof or self._broken is not None:
                    raise GitError(f"git cat-file --batch stopped before answering every object: {self._broken}")
                self._ready.wait()

    def close(self) -> None:
        """End the reader (once its answers are taken, or when the work failed)."""
        if self._finalizer.alive:
            with self._lock:
                assert self.proc.stdin is not None
                try:
                    self.proc.stdin.close()
                except OSError:
                    pass
            self._drain.join()
            self._finalizer()


_FULL_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def _end_process(proc: subprocess.Popen[bytes]) -> None:
    if proc.stdin:
        proc.stdin.close()
    if proc.stdout:
        proc.stdout.close()
    proc.wait()


class GitTree:
    """A commit's files, read from git objects (no checkout)."""

    def __init__(self, repo: GitRepo, ref: str) -> None:
        self.repo = repo
        self.ref = ref
        self.commit = repo.resolve(ref)
        self.label = f"{ref} ({self.commit[:12]})" if ref != self.commit else self.commit[:12]
        self._dirs: dict[str, dict[str, Entry] | None] = {}

    def listdir(self, path: str) -> dict[str, Entry] | None:
        """Entries of the folder at ``path`` ('' is the root), or None if it is not a folder."""
        if path not in self._dirs:
            got = self.repo.objects.contents(f"{self.commit}:{path}")
            self._dirs[path] = parse_tree(got[1], self.repo.id_width) if got and got[0] == "tree" else None
        return self._dirs[path]

    def entry(self, path: str) -> Entry | None:
        parent, _, name = path.rpartition("/")
        listing = self.listdir(parent)
        return listing.get(name) if listing else None

    def walk(self, prefix: str) -> dict[str, Entry]:
        """Every file (not folder) under ``prefix``: one ``git ls-tree`` process."""
        out = self.repo.git("ls-tree", "-r", "-z", "--full-tree", self.commit, "--", prefix)
        found: dict[str, Entry] = {}
        for record in out.split("\0"):
            if not record:
                continue
            meta, _, path = record.partition("\t")
            mode, _type, oid = meta.split(" ")
            found[path] = Entry(_kind_of_mode(int(mode, 8)), oid)
        return found

    def read(self, path: str, limit: int | None = None) -> bytes:
        """The blob at ``path``; raises :class:`FileTooLarge` past ``limit`` bytes without reading it."""
        entry = self.entry(path)
        if entry is None or entry.kind != FILE:
            raise InputError(f"not a file in {self.label}", path=path)
        if limit is not None:
            info = self.repo.objects.info(_oid(entry))
            if info and info[1] > limit:
                raise FileTooLarge(path, info[1])
        got = self.repo.objects.contents(_oid(entry))
        if got is None:
            raise InputError(f"object {entry.oid} is missing from the repository", path=path)
        return got[1]


class WorkTree:
    """The files on disk under a root folder. Symlinks are reported, never followed, at any depth.

    Every path is walked from the root one component at a time with ``O_NOFOLLOW``: a symlinked
    ``registry/``, model folder or ``aliases/`` is a symlink entry, never a way out of the repository.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.label = "working tree"
        self.commit = None

    def _parent_fd(self, path: str) -> tuple[int, str] | None:
        """An open descriptor of ``path``'s folder, reached without following links, and the last name."""
        parts = [p for p in path.split("/") if p]
        if not parts or any(p in (".", "..") for p in parts):
            raise InputError("not a path inside the repository", path=path)
        flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(self.root, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            for part in parts[:-1]:
                try:
                    nxt = os.open(part, flags, dir_fd=fd)
                except (FileNotFoundError, NotADirectoryError, OSError):
                    os.close(fd)
                    return None  # missing, a file, or a symlink: nothing is under it
                os.close(fd)
                fd = nxt
        except BaseException:
            os.close(fd)
            raise
        return fd, parts[-1]

    def _lstat(self, path: str) -> os.stat_result | None:
        if path in ("", "."):
            return os.lstat(self.root)
        got = self._parent_fd(path)
        if got is None:
            return None
        fd, name = got
        try:
            return os.lstat(name, dir_fd=fd)
        except (FileNotFoundError, NotADirectoryError):
            return None
        finally:
            os.close(fd)

    def _open_dir(self, path: str) -> int | None:
        if path in ("", "."):
            return os.open(self.root, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        got = self._parent_fd(path)
        if got is None:
            return None
        fd, name = got
        try:
            return os.open(name, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0), dir_fd=fd)
        except OSError:
            return None
        finally:
            os.close(fd)

    def listdir(self, path: str) -> dict[str, Entry] | None:
        fd = self._open_dir(path)
        if fd is None:
            return None
        try:
            with os.scandir(fd) as it:
                return {d.name: Entry(_kind_of_mode(d.stat(follow_symlinks=False).st_mode)) for d in it}
        finally:
            os.close(fd)

    def entry(self, path: str) -> Entry | None:
        st = self._lstat(path)
        return None if st is None else Entry(_kind_of_mode(st.st_mode))

    def walk(self, prefix: str) -> dict[str, Entry]:
        """Every file (and symlink, never followed) under ``prefix``."""
        st = self._lstat(prefix)
        if st is None:
            return {}
        if not stat.S_ISDIR(st.st_mode):
            return {prefix: Entry(_kind_of_mode(st.st_mode))}
        found: dict[str, Entry] = {}
        pending = [prefix.strip("/")]
        while pending:
            folder = pending.pop()
            for name, entry in (self.listdir(folder) or {}).items():
                rel = f"{folder}/{name}"
                if entry.kind == DIR:
                    pending.append(rel)
                else:
                    found[rel] = entry
        return found

    def read(self, path: str, limit: int | None = None) -> bytes:
        """The regular file at ``path`` (never through a symlink); :class:`FileTooLarge` past ``limit`` bytes."""
        got = self._parent_fd(path)
        if got is None:
            raise InputError("cannot read: no such file (or a symlinked folder on the way)", path=path)
        dir_fd, name = got
        try:
            # O_NONBLOCK: a FIFO planted in the tree must not hang the read (it is refused just below)
            fd = os.open(name, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0), dir_fd=dir_fd)
        except OSError as e:
            raise InputError(f"cannot read: {e.strerror}", path=path) from None
        finally:
            os.close(dir_fd)
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                raise InputError("not a regular file", path=path)
            data = fh.read() if limit is None else fh.read(limit + 1)
            if limit is not None and len(data) > limit:
                raise FileTooLarge(path, os.fstat(fh.fileno()).st_size)
            return data
