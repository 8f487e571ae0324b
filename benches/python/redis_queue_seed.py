"""The asyncio posts' Redis consumer, as they write it, for the redis_queue
benchmark row: a background loop in a thread, and a main thread that rpop()s
jobs and hands each to the loop with run_coroutine_threadsafe. It spins when
the queue is empty and loses whatever it popped if it dies.

Each finished job's id goes to `<queue>:done` (batched by the main thread),
so the benchmark counts finished jobs the same way for both consumers. The
consumer exits once `<queue>:done` holds --total jobs.

    python3 redis_queue_seed.py --redis redis://127.0.0.1:6379/ --queue jobs --job-ms 1 --total 10000
"""

import argparse
import asyncio
import collections
import threading

import redis


def start_thread_loop(loop):
    asyncio.set_event_loop(loop)
    loop.run_forever()


async def thread_example(name, job_s, finished):
    await asyncio.sleep(job_s)
    finished.append(name)
    return "result: " + name


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/")
    parser.add_argument("--queue", default="coro_test")
    parser.add_argument("--job-ms", type=float, default=2000)
    parser.add_argument("--total", type=int, required=True)
    args = parser.parse_args()

    redis_conn = redis.Redis.from_url(args.redis)
    new_loop = asyncio.new_event_loop()
    loop_thread = threading.Thread(target=start_thread_loop, args=(new_loop,), daemon=True)
    loop_thread.start()

    finished = collections.deque()
    done_key = args.queue + ":done"
    while True:
        msg = redis_conn.rpop(args.queue)
        if msg:
            asyncio.run_coroutine_threadsafe(
                thread_example(bytes.decode(msg, "utf-8"), args.job_ms / 1000, finished), new_loop
            )
        if finished or not msg:
            batch = [finished.popleft() for _ in range(len(finished))]
            if batch:
                redis_conn.rpush(done_key, *batch)
            if redis_conn.llen(done_key) >= args.total:
                break


if __name__ == "__main__":
    main()
