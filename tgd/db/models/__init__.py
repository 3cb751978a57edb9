"""All models, imported here so that ``Base.metadata`` knows every table (Alembic, tests)."""

from tgd.db.models.alerts import Alert, CallLeg, WebhookReceipt
from tgd.db.models.audit import AuditEntry
from tgd.db.models.beneficiaries import (
    BeneficiaryFile,
    CommissioningRecord,
    FileExport,
    FileVersion,
    TemporaryInfo,
)
from tgd.db.models.cdr import CarrierCallRecord
from tgd.db.models.forces import ForceUnit, PriorityNumberChange, Zone
from tgd.db.models.incidents import Incident, IncidentKind
from tgd.db.models.keys import DataKey
from tgd.db.models.lines import Line, LineAssignment, LineStatusChange, Sim, Swap, Terminal
from tgd.db.models.navettes import IntakeDocument, Navette, ParquetMessage
from tgd.db.models.operations import (
    ConsoleEvent,
    ConsolePresence,
    DestructionRecord,
    GeocodeCache,
    JobRun,
    SchedulerLease,
    ServiceLevelBreach,
    Task,
    TaskStep,
)
from tgd.db.models.positions import (
    Position,
    PositionRequest,
    TerminalCredential,
    TerminalNonce,
)
from tgd.db.models.territories import Juridiction, Territory
from tgd.db.models.users import Organisation, OrganisationKind, User, UserSession

__all__ = [
    "Alert",
    "AuditEntry",
    "BeneficiaryFile",
    "CallLeg",
    "CarrierCallRecord",
    "CommissioningRecord",
    "ConsoleEvent",
    "ConsolePresence",
    "DataKey",
    "DestructionRecord",
    "FileExport",
    "FileVersion",
    "ForceUnit",
    "GeocodeCache",
    "Incident",
    "IncidentKind",
    "IntakeDocument",
    "JobRun",
    "Juridiction",
    "Line",
    "LineAssignment",
    "LineStatusChange",
    "Navette",
    "Organisation",
    "OrganisationKind",
    "ParquetMessage",
    "Position",
    "PositionRequest",
    "PriorityNumberChange",
    "SchedulerLease",
    "ServiceLevelBreach",
    "Sim",
    "Swap",
    "Task",
    "TaskStep",
    "TemporaryInfo",
    "Terminal",
    "TerminalCredential",
    "TerminalNonce",
    "Territory",
    "User",
    "UserSession",
    "WebhookReceipt",
    "Zone",
]
