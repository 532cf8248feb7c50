"""The email jobs: ``email.send`` (one email) and ``email.send-batch`` (chunks of many).

Modules, one concern each: ``codes`` (error codes), ``compose`` (event to
Resend parameters, per-email validation, chunks), ``classify`` (what a Resend
answer means), ``ratelimit`` (the per-process request limit), ``pause`` (the
gate that holds every send while a quota or the API key stops sending),
``client`` (the pooled HTTP client under the Resend SDK), ``sender`` (one
request through gate, limit and classification, shared by both jobs of a
process), ``deliveries`` (the ``email_deliveries`` record that makes each
email go out once), ``job`` (``email.send``) and ``batch``
(``email.send-batch``).
"""
