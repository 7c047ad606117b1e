"""Function permissions (`resource:action`), data scopes, and the built-in roles.

A role is a set of permissions (which operations) and a data scope (which records):
- assigned: only records assigned to the user (partners, distributors);
- own: the user's records, and the public pool (customers without an owner);
- team: records of the user's department and its sub-departments, and the pool;
- all: every record of the tenant.
The sources advise not to give subordinate roles "view all", so only admin and
warehouse (which ships to any customer) have it among the built-ins.
"""

from __future__ import annotations

from dataclasses import dataclass

PERMISSIONS: dict[str, str] = {
    "customers:read": "See customers",
    "customers:write": "Create, change, delete and restore customers",
    "customers:import": "Import customers from files",
    "customers:read_credit": "See customers' credit limits",
    "customers:write_credit": "Set customers' credit limits",
    "customers:transfer": "Move customers between people and release anyone's to the pool",
    "pool:manage": "Set the public pool's claim limit and reclaim period",
    "contacts:read": "See contacts",
    "contacts:write": "Create, change and delete contacts",
    "opportunities:read": "See opportunities and the pipeline",
    "opportunities:write": "Create, change, move and close opportunities",
    "pipelines:manage": "Define pipelines and their stages",
    "leads:read": "See leads",
    "leads:write": "Create, change, assign, qualify and convert leads",
    "leads:import": "Import leads from files",
    "leads:manage": "Define lead assignment rules",
    "customers:merge": "Merge duplicate customers",
    "tiers:manage": "Define customer tier rules and run them",
    "targets:read": "See sales targets and attainment",
    "targets:manage": "Set sales targets",
    "activities:read": "See activities, tasks and appointments",
    "activities:write": "Log activities; create and change tasks and appointments",
    "products:read": "See products, categories, price lists and resolved prices",
    "products:write": "Create and change products and categories",
    "products:read_cost": "See products' cost prices",
    "prices:manage": "Define price lists and their prices",
    "company:manage": "Set the company's base currency",
    "stock:read": "See warehouses, stock levels, batches, moves and reorder rules",
    "stock:write": "Post receipts, issues, transfers, adjustments and stock takes",
    "warehouses:manage": "Define warehouses and reorder rules",
    "quotes:read": "See quotes (of the customers in the data scope)",
    "quotes:write": "Create, change, send, revise, reject and accept quotes",
    "orders:read": "See sales orders (of the customers in the data scope)",
    "orders:write": "Create and change draft sales orders",
    "orders:confirm": "Confirm (审核), cancel and close sales orders",
    "prices:override": "Type a line's unit price by hand on quotes and orders",
    "shipments:read": "See shipments and sales returns (of the customers in the data scope)",
    "shipments:write": "Ship confirmed orders and take goods back (sales returns)",
    "invoices:read": "See invoices, credit notes and payments (of the customers in the scope)",
    "invoices:write": "Invoice shipped goods and void unpaid invoices",
    "payments:write": "Record payments and allocate payments and credit notes to invoices",
    "receivables:read": "See open receivables and their ageing",
    "purchasing:read": "See suppliers and purchase orders",
    "purchasing:write": "Create and send purchase orders; manage suppliers",
    "purchasing:receive": "Receive goods against purchase orders",
    # Like products:read_cost, held by admin alone among the built-in roles: buying is
    # admin's (purchasing:write); a custom buyer role is granted it explicitly.
    "purchasing:read_cost": "See purchase prices on purchase orders and receipts",
    "jobs:read": "See background jobs",
    "users:read": "See users, teams and roles",
    "users:manage": "Add users and change their role, team and status",
    "roles:manage": "Define custom roles",
    "teams:manage": "Define the department tree",
    "audit:read": "Read the audit trail",
    "fields:manage": "Define, change and remove custom fields",
    "clients:manage": "Register, rotate and revoke API clients and single-page apps",
    "sign_in:manage": "Configure the tenant's identity provider for federated sign-in",
}
DATA_SCOPES = ("assigned", "own", "team", "all")

READ = frozenset(
    {
        "customers:read",
        "contacts:read",
        "opportunities:read",
        "activities:read",
        "leads:read",
        "targets:read",
        "products:read",
        "stock:read",
        "quotes:read",
        "orders:read",
        "shipments:read",
        "invoices:read",
        "receivables:read",
        "jobs:read",
        "users:read",
    }
)
WRITE = frozenset(
    {
        "customers:write",
        "contacts:write",
        "customers:import",
        "opportunities:write",
        "activities:write",
        "leads:write",
        "leads:import",
        "quotes:write",
        "orders:write",
    }
)
# Sensitive fields: without these the field is refused, never silently returned.
CREDIT = frozenset({"customers:read_credit", "customers:write_credit"})
# Reassigning customers (转移) is a manager's call; reps claim and release their own.
TRANSFER = frozenset({"customers:transfer"})
# Approving orders (审核: credit and stock committed) and pricing by hand: a manager's.
ORDER_APPROVAL = frozenset({"orders:confirm", "prices:override"})
# What a manager runs for their team beyond reading and writing: merges, targets, and
# approving its orders.
TEAM_MANAGEMENT = frozenset({"customers:merge", "targets:manage"}) | ORDER_APPROVAL
# Billing a team's customers and booking what they paid (开票 / 回款): a manager's.
BILLING = frozenset({"invoices:write", "payments:write"})


@dataclass(frozen=True)
class RoleDefinition:
    name: str
    permissions: frozenset[str]
    data_scope: str
    builtin: bool
    description: str = ""


def _builtin(name: str, permissions: frozenset[str], scope: str, description: str):
    return RoleDefinition(name, permissions, scope, True, description)


BUILTIN_ROLES: dict[str, RoleDefinition] = {
    r.name: r
    for r in (
        _builtin("admin", frozenset(PERMISSIONS), "all", "Everything, every record"),
        _builtin(
            "manager",
            READ | WRITE | CREDIT | TRANSFER | TEAM_MANAGEMENT | BILLING | {"purchasing:read"},
            "team",
            "Runs a team: its records and the pool",
        ),
        _builtin("sales", READ | WRITE, "own", "A sales rep: own customers and the pool"),
        _builtin(
            "service",
            READ | {"contacts:write", "activities:write"},
            "team",
            "Customer service for a team",
        ),  # fmt: skip
        _builtin(
            "warehouse",
            frozenset(
                {
                    "customers:read",
                    "contacts:read",
                    "products:read",
                    "stock:read",
                    "stock:write",
                    "purchasing:read",
                    "purchasing:receive",
                    "orders:read",
                    "shipments:read",
                    "shipments:write",
                }
            ),
            "all",
            "Ships to any customer: reads customers, posts stock moves",
        ),  # fmt: skip
        _builtin("viewer", READ, "team", "Reads a team's records"),
        # A distributor's user (users.distributor_id): the customers assigned to them and
        # their distributor; its orders and quotes (placing draft orders; confirming, 审核,
        # stays with staff holding orders:confirm); products at their prices, never cost
        # (products:read_cost); stock of their distributor's consignment warehouses only
        # (app/stock/queries.visible_warehouses).
        _builtin(
            "partner",
            frozenset(
                {
                    "customers:read",
                    "contacts:read",
                    "products:read",
                    "orders:read",
                    "orders:write",
                    "quotes:read",
                    "stock:read",
                }
            ),
            "assigned",
            "A distributor's user: only what is assigned to them",
        ),  # fmt: skip
    )
}
