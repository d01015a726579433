"""Raw clinic exports -> canonical tables (DESIGN §3), with the row ledger."""
from .ledger import Ledger, TableLedger
from .load import IngestResult, ingest, ingest_table, load_tables, save_tables
from .schema import TABLES

__all__ = ["Ledger", "TableLedger", "IngestResult", "ingest", "ingest_table", "load_tables", "save_tables", "TABLES"]
