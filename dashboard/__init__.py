"""tracehouse dashboard: a Streamlit app over the collector's query API (``/api/v1``, see docs/api.md).

It never touches storage. Launch it with ``tracehouse dashboard`` (or ``python -m tracehouse.dashboard``),
which runs ``streamlit run`` on ``app.py``. Layers, each importable without Streamlit unless noted:

- ``settings``: ``TRACEHOUSE_ENDPOINT`` / ``TRACEHOUSE_API_KEY``, resolved once at app start
- ``api_client``: ``ApiClient`` over httpx, every failure raised as ``ApiError`` with a human message
- ``timerange``, ``frames``, ``figures``: pure time windows, API JSON -> DataFrames, DataFrames -> Plotly figures
- ``conversation``, ``signals``, ``budgets``, ``runlist``: pure sessions-as-chat, quality signals (refusals,
  truncation, ...), cost by day and daily budgets, analytics run lists (the default run, the picker's labels)
- ``data``, ``session``, ``runs`` (Streamlit): cached API calls, session state and query-parameter glue, following
  analytics runs (pages whose endpoint a collector lacks show what they will show, found from ``/openapi.json``)
- ``app`` + ``pages_/``: the Streamlit entry point and its thin pages; ``run``: the launcher
"""
