"""Storage errors. Library exceptions (clickhouse-connect, chDB) are caught at this boundary.

    StorageError
    ├── ConfigError        a storage URL that cannot work (says how to fix it)
    ├── UnavailableError   the engine cannot be opened or reached
    ├── QueryError         a statement failed
    └── InvalidQueryError  a caller's argument cannot be used (bad cursor, unknown group_by)
"""


class StorageError(Exception):
    pass


class ConfigError(StorageError, ValueError):
    pass


class UnavailableError(StorageError):
    pass


class QueryError(StorageError):
    pass


class InvalidQueryError(StorageError, ValueError):
    pass
