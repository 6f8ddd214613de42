"""Benchmark: the ingest users run (``sentiment ingest-chat``, scoring included; ``sentiment run``) on generated
Telegram exports, against the naive pipeline a user would write, with speed and peak RSS of each.

Usage: ``PYTHONPATH=src:. python benchmarks/ingest.py [--messages 1000000] [--html-messages 200000] [--skip-run]``.

In one run it prints:
1. stage profile of the project's ingest in one child process (a big export's chunks decoded by its parse workers):
   parse, pseudonymise, stage, dedupe + publish, score;
2. ``sentiment ingest-chat`` (installed console script) under ``/usr/bin/time -v``: wall time and max RSS;
3. the naive pipeline (``json.load`` -> ``DataFrame`` -> ``apply(VADER)`` -> ``to_parquet``) the same way, and the
   speed/RSS ratios of 2 against 3;
4. ``sentiment run`` (the Prefect flow, prices from a loopback replay server) on the same export and on a generated
   Telegram Desktop HTML export, under ``/usr/bin/time -v``, and whether its messages equal ingest-chat's.
``/usr/bin/time`` reports the largest resident set of the command or any one of its child processes.
"""

from __future__ import annotations

import argparse
import hashlib
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

_WORDS = ["gm", "wagmi", "to the moon", "rekt", "buy the dip", "🚀", "VIRTUAL", "ser", "ngmi", "LFG", "牛市来了", "冲"]
REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def write_export(path: Path, n: int) -> int:
    """A single-chat Telegram Desktop export of ``n`` records (messages, entity texts, replies, media, joins)."""
    start = 1_704_067_200  # 2024-01-01: inside the bundled sample's candles, so `sentiment run` builds weekly rows
    step = max(20, 18_000_000 // n)  # >= 30 weeks of chat whatever n; 1M records: 20 s apart, ~8 months
    with path.open("w", encoding="utf-8") as fh:
        fh.write('{\n "name": "Benchmark Group",\n "type": "public_supergroup",\n "id": 1234567890,\n "messages": [\n')
        for i in range(1, n + 1):
            ts = start + i * step
            user = i % 5000
            base = {
                "id": i,
                "type": "message",
                "date": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)),
                "date_unixtime": str(ts),
            }
            if i % 97 == 0:
                msg = {
                    **base,
                    "type": "service",
                    "actor": f"User {user}",
                    "actor_id": f"user{user}",
                    "action": "invite_members",
                    "members": [f"User {user}"],
                    "text": "",
                    "text_entities": [],
                }
            else:
                words = " ".join(_WORDS[(i * k) % len(_WORDS)] for k in range(1, 2 + i % 9))
                text: object = words
                if i % 5 == 0:
                    text = [words + " ", {"type": "hashtag", "text": "#VIRTUAL"}]
                msg = {**base, "from": f"User {user}", "from_id": f"user{user}", "text": text}
                if i % 7 == 0:
                    msg["reply_to_message_id"] = i - 3
                if i % 31 == 0:
                    msg["photo"] = "(File not included. Change data exporting settings to download.)"
                    msg["width"], msg["height"] = 1280, 720
                if i % 11 == 0:
                    msg["reactions"] = [{"type": "emoji", "count": 2, "emoji": "👍", "recent": []}]
                msg["text_entities"] = [{"type": "plain", "text": words}]
            fh.write(("  " if i == 1 else ",\n  ") + json.dumps(msg, ensure_ascii=False))
        fh.write("\n ]\n}\n")
    return path.stat().st_size


def write_html_export(folder: Path, n: int) -> int:
    """A Telegram Desktop HTML export of ``n`` records in the exporter's layout: 1000 per page, date separators,
    joined messages, replies, photos, invites (the service blocks carry no time)."""
    folder.mkdir(parents=True, exist_ok=True)
    start = 1_704_067_200  # 2024-01-01: inside the bundled sample's candles, so the run builds weekly rows
    step = max(20, 18_000_000 // n)
    head = (
        '<!DOCTYPE html>\n<html>\n\n <head>\n\n  <meta charset="utf-8"/>\n<title>Exported Data</title>\n </head>\n\n'
        ' <body onload="CheckLocation();">\n\n  <div class="page_wrap">\n\n   <div class="page_header">\n\n'
        '    <div class="content">\n\n     <div class="text bold">\nBenchmark Group \n     </div>\n\n    </div>\n\n'
        '   </div>\n\n   <div class="page_body chat_page">\n\n    <div class="history">\n'
    )
    separator = 0
    size = 0
    for page in range((n + 999) // 1000):
        name = "messages.html" if page == 0 else f"messages{page + 1}.html"
        parts = [head]
        if page:
            parts.append(f'\n     <a class="pagination block_link" href="messages{page if page > 1 else ""}.html">\n')
            parts.append("Previous messages\n     </a>\n")
        day = None
        previous = None
        for i in range(page * 1000 + 1, min(n, page * 1000 + 1000) + 1):
            ts = start + i * step
            local = time.gmtime(ts)
            if local.tm_yday != day:
                day = local.tm_yday
                separator += 1
                parts.append(
                    f'\n     <div class="message service" id="message-{separator}">\n\n      '
                    '<div class="body details">\n'
                    f"{local.tm_mday} {time.strftime('%B %Y', local)}\n      </div>\n\n     </div>\n"
                )
                previous = None
            user = i % 5000
            if i % 97 == 0:
                parts.append(
                    f'\n     <div class="message service" id="message{i}">\n\n      <div class="body details">\n'
                    f"User {user} invited User {user}\n      </div>\n\n     </div>\n"
                )
                previous = None
                continue
            joined = previous == user
            title = time.strftime("%d.%m.%Y %H:%M:%S", local) + " UTC+00:00"
            words = " ".join(_WORDS[(i * k) % len(_WORDS)] for k in range(1, 2 + i % 9))
            block = [f'\n     <div class="message default clearfix{" joined" if joined else ""}" id="message{i}">\n']
            if not joined:
                block.append(
                    '\n      <div class="pull_left userpic_wrap">\n\n       <div class="userpic userpic1" '
                    'style="width: 42px; height: 42px">\n\n        <div class="initials" style="line-height: 42px">\n'
                    "U\n        </div>\n\n       </div>\n\n      </div>\n"
                )
            block.append(
                f'\n      <div class="body">\n\n       <div class="pull_right date details" title="{title}">\n'
                f"{time.strftime('%H:%M', local)}\n       </div>\n"
            )
            if not joined:
                block.append(f'\n       <div class="from_name">\nUser {user} \n       </div>\n')
            if i % 7 == 0:
                block.append(
                    f'\n       <div class="reply_to details">\nIn reply to <a href="#go_to_message{i - 3}" '
                    f'onclick="return GoToMessage({i - 3})">this message</a>\n       </div>\n'
                )
            if i % 31 == 0:
                block.append(
                    '\n       <div class="media_wrap clearfix">\n\n        <div class="media clearfix pull_left '
                    'media_photo">\n\n         <div class="body">\n\n          <div class="title bold">\nPhoto\n'
                    "          </div>\n\n         </div>\n\n        </div>\n\n       </div>\n"
                )
            block.append(
                f'\n       <div class="text">\n{html.escape(words)}\n       </div>\n\n      </div>\n\n     </div>\n'
            )
            parts.append("".join(block))
            previous = user
        if (page + 1) * 1000 < n:
            parts.append(
                f'\n     <a class="pagination block_link" href="messages{page + 2}.html">\nNext messages\n     </a>\n'
            )
        parts.append("\n    </div>\n\n   </div>\n\n  </div>\n\n </body>\n\n</html>\n")
        (folder / name).write_text("".join(parts), encoding="utf-8")
        size += (folder / name).stat().st_size
    return size


def _peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def child_stages(export: Path, lake: Path) -> dict[str, float]:
    """The project's ingest + scoring, stage by stage, in this process (the CLI's steps, timed separately)."""
    import pandas as pd

    from sentiment import privacy
    from sentiment.chats.detect import iter_chat_export
    from sentiment.lake import Lake
    from sentiment.settings import load_settings
    from sentiment.steps import ingest as ingest_step
    from sentiment.steps import score as score_step

    settings = load_settings(lake=lake, tz="UTC")
    now = pd.Timestamp("2024-06-01", tz="UTC")
    key = ingest_step.pseudonym_key(settings)
    times = dict.fromkeys(("parse", "pseudonymise", "stage", "dedupe_publish", "score"), 0.0)
    records = 0
    with Lake(lake).staged_append("messages") as staged:
        _, raws = iter_chat_export(export, "auto", ingest_step.local_zone("UTC"))
        t = time.perf_counter()
        for raw in raws:
            t1 = time.perf_counter()
            times["parse"] += t1 - t
            records += len(raw)
            messages = privacy.to_messages(raw, key, keep_names=False, ingested_at=now)
            t2 = time.perf_counter()
            times["pseudonymise"] += t2 - t1
            staged.add(messages)
            t = time.perf_counter()
            times["stage"] += t - t2
        peaks = {"parse_stage": _peak_rss_mb()}
        t = time.perf_counter()
    times["dedupe_publish"] = time.perf_counter() - t
    peaks["dedupe_publish"] = _peak_rss_mb()
    t = time.perf_counter()
    score_step.score_new_messages(settings, now=now)
    times["score"] = time.perf_counter() - t
    peaks["score"] = _peak_rss_mb()
    # Peak RSS so far after each part: where the process's peak is reached.
    return {"records": records, "written": staged.written, **times, **{f"peak_after_{k}": v for k, v in peaks.items()}}


def child_naive(export: Path, out: Path) -> dict[str, float]:
    """The naive way: json.load the whole file, a DataFrame of the messages, VADER row by row, to_parquet."""
    import pandas as pd
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    times = {}
    t = time.perf_counter()
    with export.open(encoding="utf-8") as fh:
        root = json.load(fh)
    times["parse"] = time.perf_counter() - t
    t = time.perf_counter()
    frame = pd.DataFrame(root["messages"])
    del root
    frame["text"] = frame["text"].map(
        lambda v: v if isinstance(v, str) else "".join(p if isinstance(p, str) else p.get("text", "") for p in v)
    )
    times["frame"] = time.perf_counter() - t
    t = time.perf_counter()
    analyzer = SentimentIntensityAnalyzer()
    frame["compound"] = frame["text"].apply(lambda s: analyzer.polarity_scores(s)["compound"])
    times["score"] = time.perf_counter() - t
    t = time.perf_counter()
    frame.astype({c: "string" for c in frame.columns if frame[c].dtype == object}).to_parquet(out)
    times["write"] = time.perf_counter() - t
    return {"records": len(frame), **times}


def _run_child(*args: str) -> dict[str, float]:
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"child {args[0]} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def timed(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str, float]:
    """(wall seconds, max RSS MB, stdout, largest process MB) of ``command`` under GNU time -v.

    GNU time's figure covers the command's process and the descendants it reaped; the last figure is the largest
    resident size any single process of the command's tree reached, sampled from /proc every 0.2 s (worker and
    child processes included, whoever reaps them)."""
    proc = subprocess.Popen(
        ["/usr/bin/time", "-v", *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env or os.environ.copy(),
    )
    largest = [0]
    watcher = threading.Thread(target=_sample_tree, args=(proc, largest), daemon=True)
    watcher.start()
    stdout, stderr = proc.communicate()
    watcher.join()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{stderr[-3000:]}")
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", stderr)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", stderr)
    assert wall and rss, stderr
    seconds = int(wall[1] or 0) * 3600 + int(wall[2]) * 60 + float(wall[3])
    return seconds, int(rss[1]) / 1024, stdout, largest[0] / 1024


def _sample_tree(proc: subprocess.Popen[str], largest: list[int]) -> None:
    """Keep in ``largest[0]`` the largest VmRSS (kB) of any process under ``proc`` until it ends."""
    while proc.poll() is None:
        for pid in _tree(proc.pid):
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            found = re.search(r"VmRSS:\s+(\d+) kB", status)
            if found:
                largest[0] = max(largest[0], int(found[1]))
        time.sleep(0.2)


def _tree(pid: int) -> list[int]:
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return [pid]
    return [pid, *(p for child in children for p in _tree(int(child)))]


def lake_digest(lake: Path, table: str = "messages_raw", unstable: str = "ingested_at") -> tuple[int, str]:
    """(rows, hash) of a table without its time-of-writing column: equal for two lakes holding the same rows."""
    from sentiment.lake import Lake

    sql = f"SELECT * EXCLUDE ({unstable}) FROM {table} ORDER BY platform, chat_id, message_id"
    digest = hashlib.sha256()
    con = Lake(lake).connect(sql)
    rows = 0
    for batch in con.sql(sql).to_arrow_reader(100_000):
        rows += batch.num_rows
        digest.update(batch.to_pandas().to_csv(index=False).encode())
    con.close()
    return rows, digest.hexdigest()[:16]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=1_000_000, help="records in the generated JSON export")
    parser.add_argument("--html-messages", type=int, default=200_000, help="records in the generated HTML export")
    parser.add_argument("--skip-naive", action="store_true", help="skip the naive pipeline (it needs many GB)")
    parser.add_argument("--skip-run", action="store_true", help="skip the sentiment run (Prefect flow) figures")
    parser.add_argument("--child", choices=["stages", "naive"], help=argparse.SUPPRESS)
    parser.add_argument("--export", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        result = child_stages(args.export, args.out) if args.child == "stages" else child_naive(args.export, args.out)
        print(json.dumps({**result, "peak_rss_mb": _peak_rss_mb()}))
        return

    with tempfile.TemporaryDirectory(prefix="sentiment-bench-") as tmp_name:
        tmp = Path(tmp_name)
        export = tmp / "result.json"
        t0 = time.perf_counter()
        size = write_export(export, args.messages)
        print(f"generated {args.messages:,} records, {size / 1e6:,.0f} MB in {time.perf_counter() - t0:.0f} s")

        stages = _run_child("--child", "stages", "--export", str(export), "--out", str(tmp / "lake-stages"))
        parts = ", ".join(
            f"{k} {stages[k]:.1f} s" for k in ("parse", "pseudonymise", "stage", "dedupe_publish", "score")
        )
        peaks = ", ".join(
            f"{k} {stages[f'peak_after_{k}']:,.0f} MB" for k in ("parse_stage", "dedupe_publish", "score")
        )
        print(
            f"stage profile (stages one after the other; a big export's parse in worker processes): {parts}; "
            f"peak RSS {stages['peak_rss_mb']:,.0f} MB (so far after {peaks})"
        )

        cli = [str(BIN / "sentiment"), "--lake", str(tmp / "lake-cli"), "ingest-chat", str(export), "--tz", "UTC"]
        ours, ours_rss, _, ours_largest = timed(cli)
        print(
            f"sentiment ingest-chat (parse, pseudonymise, dedupe, write, score): {ours:.1f} s, "
            f"max RSS {ours_rss:,.0f} MB (largest single process, sampled: {ours_largest:,.0f} MB)"
        )
        if not args.skip_naive:
            naive_cmd = [sys.executable, __file__, "--child", "naive", "--export", str(export), "--out"]
            naive, naive_rss, out, _ = timed([*naive_cmd, str(tmp / "naive.parquet")])
            detail = json.loads(out.strip().splitlines()[-1])
            parts = ", ".join(f"{k} {detail[k]:.1f} s" for k in ("parse", "frame", "score", "write"))
            print(
                f"naive json.load -> DataFrame -> apply(VADER) -> to_parquet: {naive:.1f} s ({parts}), "
                f"max RSS {naive_rss:,.0f} MB"
            )
            print(
                f"ratio: ingest-chat is {naive / ours:.2f}x faster than the naive pipeline; "
                f"RSS {ours_rss / naive_rss:.2f}x"
            )
        if args.skip_run:
            return
        from sentiment.sandbox.replay import serve_recorded

        env = os.environ.copy()
        env.setdefault("PREFECT_HOME", str(tmp / "prefect"))
        env.update(PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1")
        env["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "120"
        html_export = tmp / "ChatExport_2024-06-01"
        t0 = time.perf_counter()
        html_size = write_html_export(html_export, args.html_messages)
        print(
            f"generated HTML export: {args.html_messages:,} records, {html_size / 1e6:,.0f} MB "
            f"in {time.perf_counter() - t0:.0f} s"
        )
        with serve_recorded(REPO / "data" / "sample" / "exchange") as url:
            for label, source in (("JSON", export), ("HTML", html_export)):
                lake = tmp / f"lake-run-{label}"
                # The same pseudonymisation key as the ingest-chat lake, so equal inputs give equal rows.
                from sentiment.lake import Lake

                Lake(lake).key_path.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(Lake(tmp / "lake-cli").key_path, Lake(lake).key_path)
                run = [str(BIN / "sentiment"), "--lake", str(lake), "--reports", str(tmp / "reports"), "run"]
                run += ["--chat", str(source), "--exchange", "gate", "--symbol", "VIRTUAL/USDT"]
                run += ["--since", "2023-11-01", "--api-url", url, "--tz", "UTC"]
                seconds, rss, _, largest = timed(run, env)
                line = (
                    f"sentiment run on the {label} export: {seconds:.1f} s, max RSS {rss:,.0f} MB "
                    f"(largest single process, sampled: {largest:,.0f} MB)"
                )
                if label == "JSON":
                    ours_lake, cli_lake = lake_digest(lake), lake_digest(tmp / "lake-cli")
                    line += f"; messages equal ingest-chat's: {ours_lake == cli_lake} ({ours_lake} vs {cli_lake})"
                    ours_scores = lake_digest(lake, "scores", "scored_at")
                    cli_scores = lake_digest(tmp / "lake-cli", "scores", "scored_at")
                    line += f"; scores equal: {ours_scores == cli_scores} ({ours_scores[0]:,} rows)"
                print(line)


if __name__ == "__main__":
    main()
