"""Error codes of the email jobs, as they appear in ``x-error-message`` and logs."""

E_NO_SENDER = "E_NO_SENDER"
"""The email has no ``from`` and ``EMAIL_FROM`` is unset."""

E_EMAIL_REJECTED = "E_EMAIL_REJECTED"
"""Emails of a batch were invalid (locally or for Resend); the others were sent."""

E_RESEND_VALIDATION = "E_RESEND_VALIDATION"
"""Resend refused the request: 400, 403 validation, 422 or another 4xx."""

E_RESEND_IDEMPOTENCY = "E_RESEND_IDEMPOTENCY"
"""Resend saw the idempotency key with another payload (409 invalid_idempotent_request)."""

E_RESEND_CONCURRENT = "E_RESEND_CONCURRENT"
"""A request with the same idempotency key is still in progress (409)."""

E_RESEND_RATE_LIMIT = "E_RESEND_RATE_LIMIT"
"""429 rate_limit_exceeded kept coming back after every in-handler wait."""

E_RESEND_QUOTA = "E_RESEND_QUOTA"
"""A daily or monthly quota is used up (429); the job pauses."""

E_RESEND_API_KEY = "E_RESEND_API_KEY"
"""Resend refused the API key (401, 403 invalid_api_key) or none is set; the job pauses."""

E_RESEND_SERVER = "E_RESEND_SERVER"
"""Resend answered 5xx or something that is not its JSON."""

E_RESEND_CONNECT = "E_RESEND_CONNECT"
"""No answer: a timeout or a connection failure."""

E_DATABASE = "E_DATABASE"
"""The ``email_deliveries`` record could not be read or written."""
