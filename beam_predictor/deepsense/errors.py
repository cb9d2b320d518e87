"""The one error type of the data layer: it always says where the bad input is."""
from __future__ import annotations


class DeepSenseError(ValueError):
    """Bad dataset input, located by row, file and field (each when known)."""

    def __init__(self, message: str, *, row: int | None = None, file: str | None = None,
                 field: str | None = None):
        self.reason = message
        self.row = row
        self.file = str(file) if file is not None else None
        self.field = field
        where = []
        if row is not None:
            where.append(f"row {row}")
        if field is not None:
            where.append(f"field '{field}'")
        if self.file is not None:
            where.append(f"file {self.file}")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)

    def located(self, *, row: int | None = None, field: str | None = None,
                file: str | None = None) -> "DeepSenseError":
        """The same error with missing location parts filled in."""
        return DeepSenseError(self.reason, row=self.row if self.row is not None else row,
                              file=self.file if self.file is not None else file,
                              field=self.field if self.field is not None else field)
