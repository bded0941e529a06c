"""Shared fixtures and how the suite is split across workers.

`make test` runs the suite on two pytest-xdist workers (``-n 2 --dist loadfile``). Each app is
synthesized once per worker and shared by every test there; botocore parses each of its model files
once per worker. Each test module runs whole on one worker, so its module fixtures run once; the
modules of a folder in ``ONE_WORKER_FOLDERS`` run on the same worker, so their session fixtures
run once in the whole run.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Any

import botocore.loaders
import botocore.session
import pytest
from xdist.scheduler import LoadFileScheduling

if TYPE_CHECKING:  # imported by the fixtures that use them: xdist's controller process never loads aws_cdk
    from aws_cdk import assertions
    from cdk_helpers import SynthesizedApp

#: Folders whose test modules share session fixtures too expensive to set up on every worker: under
#: `make test` all their modules run on one worker. tests/access/: the example's resolved policies
#: and the one simulator batch of every scenario. Not the example app's synth: nearly every module
#: needs it, and each worker synthesizes it once.
ONE_WORKER_FOLDERS = ("tests/access/",)


class _FileScheduling(LoadFileScheduling):
    """pytest-xdist's ``--dist loadfile`` (each test module is one unit of work, run on one worker, so
    its module fixtures run once), except that the modules of a folder in ``ONE_WORKER_FOLDERS`` form
    one unit together. (xdist's own ``--dist loadgroup`` groups nothing with pytest 9.2:
    pytest-xdist issue 1386.)"""

    def _split_scope(self, nodeid: str) -> str:
        module = nodeid.split("::", 1)[0]
        return next((folder for folder in ONE_WORKER_FOLDERS if module.startswith(folder)), module)


#: Modules whose set-up or tests take longest, scheduled first (longest processing time first packs two
#: workers best; xdist would otherwise order them by their number of tests). `make benchmark-tests`
#: lists the slowest tests: a new module near the top belongs here.
LONGEST_FIRST = (
    "tests/access/", "tests/test_app.py", "tests/test_separation_of_duties.py", "tests/test_deploy.py",
    "tests/cli/test_cli_terminal.py", "tests/test_rotation_freshness.py",
)  # fmt: skip


def _rank(item: pytest.Item) -> int:
    path = item.nodeid.split("::", 1)[0]
    return next((i for i, prefix in enumerate(LONGEST_FIRST) if path.startswith(prefix)), len(LONGEST_FIRST))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Longest modules first (a stable sort: the order inside a module is kept)."""
    items.sort(key=_rank)


@pytest.hookimpl(wrapper=True)
def pytest_collection(session: pytest.Session) -> Generator[None, object, object]:
    """No garbage collection while the test modules are imported, then everything alive is frozen.

    Each full collection walks every tracked object, and this suite keeps a large heap alive: aws_cdk's
    generated classes, botocore's models, synthesized apps, moto's backends. Importing aws_cdk and moto
    alone set off a dozen full collections (about 1.8 s per worker) that free next to nothing; the
    imported modules and collected tests live for the whole run, so they go to the permanent
    generation (:func:`gc.freeze`), which later collections skip.
    """
    gc.disable()
    try:
        return (yield)
    finally:
        gc.freeze()
        gc.enable()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, object, object]:
    """After the last test of a module, freeze what is still alive (session fixtures: the synthesized
    example app, botocore's shared loader; caches), so the next modules' collections skip it too.
    Without this, workers spent 12-20 s of a run in full collections re-walking the same objects."""
    try:
        return (yield)
    finally:
        if nextitem is None or nextitem.path != item.path:
            gc.freeze()


@pytest.hookimpl(optionalhook=True)  # an xdist hook: a run with `-p no:xdist` does not know it
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> LoadFileScheduling | None:
    return _FileScheduling(config, log) if config.getvalue("dist") == "loadfile" else None


@pytest.fixture(scope="session", autouse=True)
def _no_real_aws() -> None:
    """Nothing in the suite may reach AWS: fake credentials, no profile, one Region."""
    for variable in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        os.environ.pop(variable, None)
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }
    )


@pytest.fixture(scope="session", autouse=True)
def _one_botocore_loader() -> Iterator[None]:
    """Every botocore session of the run shares one data loader, so each model file is parsed once.

    ``mock_aws`` gives each test a new default boto3 session (moto's ``reset_boto3_session``), and a
    new session parses botocore's JSON again: the endpoints, then each service's model, about 0.1-0.4 s
    per test, most of the suite's moto set-up. The loader holds only those read-only files (the same
    sharing every client of one session already has); each test still gets its own session, clients,
    credentials and moto backends. boto3 appends its own data folder to the loader on every session:
    duplicates are dropped so the search path stays as it is for one session.
    """
    loaders: dict[str | None, botocore.loaders.Loader] = {}

    def shared_loader(search_path_string: str | None = None) -> botocore.loaders.Loader:
        loader = loaders.get(search_path_string)
        if loader is None:
            loader = loaders[search_path_string] = botocore.loaders.create_loader(search_path_string)
        loader.search_paths[:] = dict.fromkeys(loader.search_paths)
        return loader

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.session, "create_loader", shared_loader)
        yield


@pytest.fixture(scope="session")
def example_app(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedApp:
    """The example configuration, exactly as `make synth` builds it (without the nag plugin,
    which tests/test_app.py runs over this same tree)."""
    from cdk_helpers import SynthesizedApp, new_app

    from stacks.build import build_app
    from stacks.config import load_config

    app = new_app(tmp_path_factory.mktemp("example.out"))
    build_app(app, load_config("example"))
    return SynthesizedApp(app, app.synth())


@pytest.fixture(scope="session")
def member_template(example_app: SynthesizedApp) -> assertions.Template:
    from stacks.build import MEMBER_REGIONAL_STACK_NAME

    return example_app.template(MEMBER_REGIONAL_STACK_NAME)
