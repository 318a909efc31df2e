"""The Celery app and its tasks: the functions of tasks.py. Broker and
result backend are the redis-server celery_peer.py starts on 127.0.0.1
(GLIMPSE_PEERS_REDIS); pickle, so that bytes items go as they are."""

import os

import celery

import tasks

url = os.environ.get("GLIMPSE_PEERS_REDIS", "redis://127.0.0.1:6379/0")
app = celery.Celery("glimpse_peers", broker=url, backend=url)
app.conf.update(
    task_serializer="pickle", result_serializer="pickle", accept_content=["pickle"],
    worker_prefetch_multiplier=4, broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)

square = app.task(name="square")(tasks.square)
identity = app.task(name="identity")(tasks.identity)
count_primes = app.task(name="count_primes")(tasks.count_primes)
