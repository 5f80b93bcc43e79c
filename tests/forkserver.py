"""A fork server for the suite's console commands (fairseq-train, fairseq-hydra-train,
fairseq-preprocess, minimodel, python -m minimodel_fairseq.* / minimodel_recipes.* / benchmarks.*,
python SCRIPT.py).

A fresh ``fairseq-train`` spends about 4 s importing torch and fairseq before it reads its first
argument, and the suite starts a few hundred of them, most from the recipes. The server imports those
modules once and forks one child per command. The child is a fresh process in every way the tests look
at: its own argv, cwd, environment, stdin/stdout/stderr (the caller's own file descriptors, passed over
the socket), exit status and signals, and no plugin imported unless the command imports it
(``--user-dir``, ``minimodel``); only the import time is saved. The server never runs a torch
operation, so no OpenMP pool exists when it forks.

    python tests/forkserver.py serve SOCKET       # prints "ready" once listening
    python -S tests/forkserver.py run CMD ARGS... # CMD through the server named by $MINIMODEL_FORKSERVER
                                                  # (exec'd as is when unset or not a known command)

Each command's argv and seconds are appended to $MINIMODEL_FORKSERVER_LOG as a JSON line when set.
The recipes take the second line as their ``LAUNCH`` prefix (tests/conftest.py sets both).
"""

import array
import json
import os
import signal
import socket
import sys

ENTRY_POINTS = {
    "fairseq-train": ("fairseq_cli.train", "cli_main"),
    "fairseq-preprocess": ("fairseq_cli.preprocess", "cli_main"),
    "fairseq-hydra-train": ("fairseq_cli.hydra_train", "cli_main"),
    "minimodel": ("minimodel_fairseq.cli", "main"),
}
# python -m MODULE for these packages' modules, and python SCRIPT.py, go through the server too
MODULES = ("minimodel_fairseq.", "minimodel_recipes.", "benchmarks.")
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT)


def served(argv):
    """Whether the server runs ARGV: a known console script, python -m one of MODULES, or python X.py."""
    name = os.path.basename(argv[0]) if argv else ""
    python = name.startswith("python") and len(argv) >= 2
    return name in ENTRY_POINTS or (
        python
        and (
            (len(argv) >= 3 and argv[1] == "-m" and argv[2].startswith(MODULES))
            or argv[1].endswith(".py")
        )
    )


def _send(conn, obj, fds=()):
    data = (json.dumps(obj) + "\n").encode()
    if fds:
        conn.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])
    else:
        conn.sendall(data)


def _recv_line(conn):
    buf, fds = b"", []
    while not buf.endswith(b"\n"):
        data, anc, _, _ = conn.recvmsg(1 << 16, socket.CMSG_SPACE(3 * array.array("i").itemsize))
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.extend(array.array("i", payload[: len(payload) - len(payload) % 4]))
        if not data:
            return None, fds
        buf += data
    return json.loads(buf), fds


def call(argv, cwd, env, fds, path=None):
    """Run ARGV through the server at PATH (default $MINIMODEL_FORKSERVER) with stdin/stdout/stderr FDS;
    return its exit status as subprocess does (negative: killed by that signal). Signals this process
    receives are forwarded to the command."""
    import time

    start = time.time()
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect(path or os.environ["MINIMODEL_FORKSERVER"])
    _send(
        conn,
        {"argv": list(argv), "cwd": os.path.abspath(cwd or os.getcwd()), "env": dict(env)},
        fds,
    )
    hello, _ = _recv_line(conn)
    child = hello["pid"]
    forwarded = []

    def forward(sig, _frame):
        forwarded.append(sig)
        try:
            os.kill(child, sig)
        except ProcessLookupError:
            pass

    old = {sig: signal.signal(sig, forward) for sig in FORWARDED} if _main_thread() else {}
    try:
        reply, _ = _recv_line(conn)
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        conn.close()
    code = (
        -(forwarded[-1] if forwarded else signal.SIGKILL) if reply is None else reply["returncode"]
    )
    if os.environ.get(
        "MINIMODEL_FORKSERVER_LOG"
    ):  # where the suite's time goes: a JSON line per command
        with open(os.environ["MINIMODEL_FORKSERVER_LOG"], "a") as log:
            log.write(
                json.dumps(
                    {
                        "start": start,
                        "seconds": round(time.time() - start, 3),
                        "code": code,
                        "argv": [os.path.basename(argv[0]), *argv[1:]],
                    }
                )
                + "\n"
            )
    return code


def _main_thread():
    import threading

    return threading.current_thread() is threading.main_thread()


def _become(conn, request, fds):
    """The forked child: become the command; never returns."""
    code = 1
    try:
        for sig in (*FORWARDED, signal.SIGCHLD, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_DFL if sig != signal.SIGPIPE else signal.SIG_IGN)
        for target, fd in zip((0, 1, 2), fds):
            os.dup2(fd, target)
            os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        _send(conn, {"pid": os.getpid()})
        # the caller gone (killed): the command goes too, as a child of a killed shell pipeline would
        import threading

        def watch():
            while conn.recv(1):
                pass
            os.kill(os.getpid(), signal.SIGKILL)

        threading.Thread(target=watch, daemon=True).start()
        import importlib
        import logging
        import warnings

        warnings.resetwarnings()
        for action, category in (
            ("default", DeprecationWarning),
            ("ignore", DeprecationWarning),
            ("ignore", PendingDeprecationWarning),
            ("ignore", ImportWarning),
            ("ignore", ResourceWarning),
        ):
            warnings.filterwarnings(
                action, category=category, module="__main__" if action == "default" else ""
            )
        if os.environ.get("PYTHONWARNINGS"):
            warnings._processoptions(os.environ["PYTHONWARNINGS"].split(","))
        if "OMP_NUM_THREADS" in os.environ:
            import torch

            torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
        argv = list(request["argv"])
        # a console script, python -m MODULE, or python SCRIPT: what runs, and sys.argv / sys.path[0]
        # as the interpreter sets them (runpy makes sys.argv[0] the module's file)
        import runpy

        name = os.path.basename(argv[0])
        if name in ENTRY_POINTS:
            module, func = ENTRY_POINTS[name]
            sys.argv, sys.path[0] = argv, os.path.dirname(sys.executable)
            command = lambda: getattr(importlib.import_module(module), func)()  # noqa: E731
        elif argv[1] == "-m":
            module = argv[2]
            sys.argv, sys.path[0] = [module, *argv[3:]], os.getcwd()
            command = lambda: runpy.run_module(module, run_name="__main__", alter_sys=True)  # noqa: E731
        else:
            module = argv[1]
            sys.argv, sys.path[0] = argv[1:], os.path.dirname(os.path.abspath(module))
            command = lambda: runpy.run_path(module, run_name="__main__")  # noqa: E731
        if not module.startswith("fairseq_cli."):
            logging.getLogger().handlers[:] = _ROOT_LOGGER[0]
            logging.getLogger().setLevel(_ROOT_LOGGER[1])
        sys.stdin = open(0, closefd=False)
        sys.stdout = open(1, "w", closefd=False)
        sys.stderr = open(2, "w", closefd=False)
        for handler in logging.getLogger().handlers:  # fairseq_cli's handler writes to sys.stdout
            if isinstance(handler, logging.StreamHandler) and not isinstance(
                handler, logging.FileHandler
            ):
                handler.setStream(sys.stdout if handler.stream is sys.__stdout__ else sys.stderr)
        try:
            result = command()
            code = result if isinstance(result, int) else 0
        except SystemExit as e:
            if e.code is None or isinstance(e.code, int):
                code = e.code or 0
            else:
                print(e.code, file=sys.stderr)
                code = 1
        except BaseException:
            import traceback

            traceback.print_exc()
            code = 1
    except BaseException:  # the server's own part failed: say so on the command's stderr
        import traceback

        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
            _send(conn, {"returncode": code})
        finally:
            os._exit(code)


def serve(path):
    global _ROOT_LOGGER
    import logging
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import fairseq.checkpoint_utils  # noqa: F401
        import fairseq.criterions  # noqa: F401
        import fairseq.models  # noqa: F401
        import fairseq.options  # noqa: F401
        import fairseq.tasks  # noqa: F401
        import fairseq.trainer  # noqa: F401
        import sentencepiece  # noqa: F401
        import torch  # noqa: F401
        import torch._dynamo  # noqa: F401  (torch.optim imports it on the first optimizer: 2.6 s)
        import transformers.models.roberta.modeling_roberta  # noqa: F401  (import-hf, export-hf/-mlm)
        import transformers.models.xlm_roberta.modeling_xlm_roberta  # noqa: F401
        import transformers.models.xlm_roberta_xl.modeling_xlm_roberta_xl  # noqa: F401

        # fairseq_cli's modules configure the root logger when imported; a command that imports none
        # of them (minimodel) gets it as it was before
        _ROOT_LOGGER = (list(logging.getLogger().handlers), logging.getLogger().level)
        import fairseq_cli.hydra_train  # noqa: F401
        import fairseq_cli.preprocess  # noqa: F401
        import fairseq_cli.train  # noqa: F401
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    listener.settimeout(1.0)
    print("ready", flush=True)
    parent = os.getppid()
    while True:
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            pass
        if os.getppid() != parent:  # the test session is gone
            return
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            continue
        conn.settimeout(None)
        request, fds = _recv_line(conn)
        if request is None or len(fds) != 3:
            conn.close()
            for fd in fds:
                os.close(fd)
            continue
        sys.stdout.flush()
        sys.stderr.flush()
        if os.fork() == 0:
            listener.close()
            _become(conn, request, fds)
        conn.close()
        for fd in fds:
            os.close(fd)


def main(argv):
    if argv[:1] == ["serve"] and len(argv) == 2:
        return serve(argv[1])
    if argv[:1] == ["run"] and len(argv) >= 2:
        cmd = argv[1:]
        if os.environ.get("MINIMODEL_FORKSERVER") and served(cmd):
            code = call(cmd, os.getcwd(), os.environ, (0, 1, 2))
            if code < 0:
                signal.signal(-code, signal.SIG_DFL)
                os.kill(os.getpid(), -code)
            return code
        os.execvp(cmd[0], cmd)
    print(__doc__, file=sys.stderr)
    return 2


_ROOT_LOGGER = ([], 0)
if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
