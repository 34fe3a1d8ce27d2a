"""One hookpipe admin indexes a SQLite index at a time: a second one on the same file waits for the lock (and
answers from the index meanwhile); the lock passes on when its holder lets go or exits."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from control.admin.index import open_index

ROOT = Path(__file__).resolve().parents[2]


async def test_a_second_index_on_the_same_file_cannot_take_the_lock_until_the_first_lets_go(tmp_path: Path) -> None:
    path = str(tmp_path / "index.sqlite3")
    first, second = await open_index(path), await open_index(path)
    try:
        assert await first.try_lock() and await first.holds_lock()
        assert not await second.try_lock() and not await second.holds_lock()
        await first.unlock()
        assert await second.try_lock()
    finally:
        await first.close()
        await second.close()


async def test_the_lock_is_released_when_its_holder_exits(tmp_path: Path) -> None:
    path = str(tmp_path / "index.sqlite3")
    holder = ("import asyncio, sys\nfrom control.admin.index import open_index\n"
              "async def main():\n    index = await open_index(sys.argv[1])\n    assert await index.try_lock()\n"
              "    print('locked', flush=True)\n    sys.stdin.read()\n"  # holds it until its stdin closes
              "asyncio.run(main())\n")
    process = await asyncio.create_subprocess_exec(sys.executable, "-c", holder, path, cwd=ROOT,
                                                   stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    try:
        assert process.stdout is not None
        assert await asyncio.wait_for(process.stdout.readline(), 30) == b"locked\n"
        index = await open_index(path)
        try:
            assert not await index.try_lock()
            process.kill()  # no clean-up: the kernel releases the flock with the process
            await asyncio.wait_for(process.wait(), 10)
            assert await index.try_lock()
        finally:
            await index.close()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
