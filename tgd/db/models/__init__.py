"""All models, imported here so that ``Base.metadata`` knows every table (Alembic, tests)."""

from tgd.db.models.alerts import Alert, CallLeg, WebhookReceipt
from tgd.db.models.audit import AuditEntry
from tgd.db.models.beneficiaries import (
    BeneficiaryFile,
    CommissioningRecord,
    FileExport,
    FileGeocode,
    FileVersion,
    TemporaryInfo,
)
from tgd.db.models.cdr import CarrierCallRecord
from tgd.db.models.coverage import CoverageLayer, CoverageMeasure
from tgd.db.models.forces import ForceUnit, PriorityNumberChange, Zone
from tgd.db.models.incidents import (
    Incident,
    IncidentKind,
    TicketChannel,
    TicketResolution,
    TicketStatus,
)
from tgd.db.models.inventory import Delivery
from tgd.db.models.keys import DataKey
from tgd.db.models.line_health import LineActivity
from tgd.db.models.lines import Line, LineAssignment, LineStatusChange, Sim, Swap, Terminal
from tgd.db.models.messages import InboundSms
from tgd.db.models.navettes import IntakeDocument, Navette, ParquetMessage
from tgd.db.models.operations import (
    ConsoleEvent,
    ConsolePresence,
    DestructionRecord,
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
from tgd.db.models.restrictions import LineRestriction
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
    "CoverageLayer",
    "CoverageMeasure",
    "DataKey",
    "Delivery",
    "DestructionRecord",
    "FileExport",
    "FileGeocode",
    "FileVersion",
    "ForceUnit",
    "InboundSms",
    "Incident",
    "IncidentKind",
    "IntakeDocument",
    "JobRun",
    "Juridiction",
    "Line",
    "LineActivity",
    "LineAssignment",
    "LineRestriction",
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
    "TicketChannel",
    "TicketResolution",
    "TicketStatus",
    "User",
    "UserSession",
    "WebhookReceipt",
    "Zone",
]
