"""Read-only provider API integrations: OpenAI organization Usage/Costs, Anthropic Admin reports.

* ``http``          - the httpx client: timeouts, retries honouring Retry-After, pagination,
  key-safe errors (:class:`~ingest.providers.http.ProviderAuthError` names the key kind needed).
* ``openai_api``    - endpoints, raw tables and row flattening for OpenAI (README_openai.md).
* ``anthropic_api`` - the same for Anthropic (README_anthropic.md).
* ``sync``          - fetch a window of UTC days, gate it, replace it atomically in ``raw.*``;
  which days to pull; the key-use audit (``meta.key_audit``).

User-managed keys live in ``ingest.integrations``. Nothing here imports Dagster.
"""
