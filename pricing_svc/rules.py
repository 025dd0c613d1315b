"""Price rules: stored, listed, changed and deleted; validation happens before they get here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from psycopg import errors as pg_errors

from holdfast_common.db.idempotency import RequestRecord, in_recorded_transaction
from holdfast_common.db.pool import AsyncConn, AsyncPool, fetch_all, fetch_one
from holdfast_common.errors import FieldViolation, invalid_argument, not_found
from holdfast_common.values.pagination import PageRequest
from pricing_svc.engine import PriceRule, Scope, ScopeKind
from pricing_svc.queries import Q

# A scope naming something that does not exist fails its foreign key; this says
# which request field was wrong.
_SCOPE_FOREIGN_KEYS = {
    "price_rules_scope_category_id_fkey": ("rule.category_id", "no such category"),
    "price_rules_scope_product_id_fkey": ("rule.product_id", "no such product"),
    "price_rules_scope_sku_fkey": ("rule.sku", "no such SKU"),
}
_SCOPE_COLUMNS = {
    ScopeKind.CATEGORY: "scope_category_id",
    ScopeKind.PRODUCT: "scope_product_id",
    ScopeKind.SKU: "scope_sku",
}


@dataclass(frozen=True)
class StoredRule:
    """A rule as kept: the engine's rule, the currency of its amount, and its timestamps."""

    rule: PriceRule
    currency: str
    create_time: datetime
    update_time: datetime


# A rule's new form derived from its stored one (raising INVALID_ARGUMENT if the result is
# not a valid rule); run while the rule is locked.
RuleChange = Callable[[StoredRule], PriceRule]


@dataclass(frozen=True)
class DeletedRule:
    id: str


def rule_from_row(row: dict[str, Any]) -> StoredRule:
    """A price_rules row as the engine's rule."""
    scope = Scope.all()
    for kind, column in _SCOPE_COLUMNS.items():
        if row[column] is not None:
            scope = Scope(kind, str(row[column]))
    rule = PriceRule(
        id=str(row["id"]),
        name=row["name"],
        stage=row["stage"],
        scope=scope,
        priority=row["priority"],
        percent_off_bp=row["percent_off_bp"],
        amount_off_minor=row["amount_off_minor"],
        start_time=row["start_time"],
        end_time=row["end_time"],
        min_quantity=row["min_quantity"],
        customer_tier=row["customer_tier"],
        active=row["active"],
    )
    return StoredRule(rule, row["currency"], row["create_time"], row["update_time"])


def _row_params(rule: PriceRule, currency: str) -> dict[str, Any]:
    params: dict[str, Any] = {
        "id": rule.id,
        "name": rule.name,
        "stage": rule.stage.value,
        "percent_off_bp": rule.percent_off_bp,
        "amount_off_minor": rule.amount_off_minor,
        "currency": currency,
        "start_time": rule.start_time,
        "end_time": rule.end_time,
        "min_quantity": rule.min_quantity,
        "customer_tier": rule.customer_tier,
        "priority": rule.priority,
        "active": rule.active,
    }
    for kind, column in _SCOPE_COLUMNS.items():
        params[column] = rule.scope.target if rule.scope.kind is kind else None
    return params


async def _write(conn: AsyncConn, query: str, rule: PriceRule, currency: str) -> StoredRule:
    try:
        async with conn.transaction():  # a savepoint, so a refused scope leaves the outer one usable
            cur = await conn.execute(query, _row_params(rule, currency))
            row = await cur.fetchone()
    except pg_errors.ForeignKeyViolation as exc:
        field, description = _SCOPE_FOREIGN_KEYS.get(
            exc.diag.constraint_name or "", ("rule.scope", "names nothing that exists")
        )
        raise invalid_argument([FieldViolation(field, description)]) from None
    if row is None:
        raise not_found("price rule", "id", rule.id)
    return rule_from_row(row)


async def _delete(conn: AsyncConn, rule_id: str) -> DeletedRule:
    cur = await conn.execute(Q.delete_rule, {"id": rule_id})
    if await cur.fetchone() is None:
        raise not_found("price rule", "id", rule_id)
    return DeletedRule(rule_id)


class Rules:
    """Rule storage on one pool; amounts are in the store currency."""

    def __init__(self, pool: AsyncPool, store_currency: str) -> None:
        self._pool = pool
        self._currency = store_currency

    async def create(self, rule: PriceRule, record: RequestRecord) -> StoredRule:
        insert = partial(_write, query=Q.insert_rule, rule=rule, currency=self._currency)
        return await in_recorded_transaction(self._pool, record, StoredRule, insert)

    async def get(self, rule_id: str) -> StoredRule:
        row = await fetch_one(self._pool, Q.get_rule, {"id": rule_id})
        if row is None:
            raise not_found("price rule", "id", rule_id)
        return rule_from_row(row)

    async def list(self, page: PageRequest) -> tuple[list[StoredRule], str | None]:
        """One page of rules, oldest first, and the id to continue after."""
        after = page.after[0] if page.after else None
        rows = await fetch_all(self._pool, Q.list_rules, {"after": after, "limit": page.size + 1})
        rules = [rule_from_row(r) for r in rows[: page.size]]
        return rules, (rules[-1].rule.id if len(rows) > page.size else None)

    async def update(self, rule_id: str, change: RuleChange, record: RequestRecord) -> StoredRule:
        """Locks the rule, lets `change` derive (and validate) its new form, and stores it."""

        async def work(conn: AsyncConn) -> StoredRule:
            cur = await conn.execute(Q.lock_rule, {"id": rule_id})
            row = await cur.fetchone()
            if row is None:
                raise not_found("price rule", "id", rule_id)
            return await _write(conn, Q.update_rule, change(rule_from_row(row)), self._currency)

        return await in_recorded_transaction(self._pool, record, StoredRule, work)

    async def delete(self, rule_id: str, record: RequestRecord) -> None:
        await in_recorded_transaction(self._pool, record, DeletedRule, partial(_delete, rule_id=rule_id))
