"""The ``webhook.send`` job: signed, guarded, logged HTTP deliveries.

Modules, one concern each: ``signing`` (Standard Webhooks signatures),
``guard`` (refuses non-public targets), ``http1`` (one HTTP/1.1 keep-alive
connection, parsed by httptools), ``client`` (the pool of them: guard, timeouts),
``outcomes`` (what an answer or an error means), ``registry`` (the ``webhooks``
table), ``endpoints`` (the short-lived config cache), ``deliveries`` (batched
``webhook_deliveries`` rows) and ``job`` (the handler and the ``JOB`` value).
"""
