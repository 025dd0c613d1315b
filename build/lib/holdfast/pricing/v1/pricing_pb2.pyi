import datetime

from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.rpc import status_pb2 as _status_pb2
from google.type import money_pb2 as _money_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PriceStage(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PRICE_STAGE_UNSPECIFIED: _ClassVar[PriceStage]
    PRICE_STAGE_BASE: _ClassVar[PriceStage]
    PRICE_STAGE_SEASONAL: _ClassVar[PriceStage]
    PRICE_STAGE_BULK: _ClassVar[PriceStage]
    PRICE_STAGE_TIER: _ClassVar[PriceStage]
PRICE_STAGE_UNSPECIFIED: PriceStage
PRICE_STAGE_BASE: PriceStage
PRICE_STAGE_SEASONAL: PriceStage
PRICE_STAGE_BULK: PriceStage
PRICE_STAGE_TIER: PriceStage

class PriceRule(_message.Message):
    __slots__ = ("id", "name", "stage", "percent_off_bps", "amount_off", "start_time", "end_time", "min_quantity", "customer_tier", "all_skus", "category_id", "product_id", "sku", "priority", "active", "create_time", "update_time")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    PERCENT_OFF_BPS_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_OFF_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    MIN_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_TIER_FIELD_NUMBER: _ClassVar[int]
    ALL_SKUS_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_ID_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_ID_FIELD_NUMBER: _ClassVar[int]
    SKU_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    stage: PriceStage
    percent_off_bps: int
    amount_off: _money_pb2.Money
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    min_quantity: int
    customer_tier: str
    all_skus: bool
    category_id: str
    product_id: str
    sku: str
    priority: int
    active: bool
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., stage: _Optional[_Union[PriceStage, str]] = ..., percent_off_bps: _Optional[int] = ..., amount_off: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., min_quantity: _Optional[int] = ..., customer_tier: _Optional[str] = ..., all_skus: _Optional[bool] = ..., category_id: _Optional[str] = ..., product_id: _Optional[str] = ..., sku: _Optional[str] = ..., priority: _Optional[int] = ..., active: _Optional[bool] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class QuoteStep(_message.Message):
    __slots__ = ("stage", "rule_id", "description", "unit_price_before", "unit_price_after")
    STAGE_FIELD_NUMBER: _ClassVar[int]
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    UNIT_PRICE_BEFORE_FIELD_NUMBER: _ClassVar[int]
    UNIT_PRICE_AFTER_FIELD_NUMBER: _ClassVar[int]
    stage: PriceStage
    rule_id: str
    description: str
    unit_price_before: _money_pb2.Money
    unit_price_after: _money_pb2.Money
    def __init__(self, stage: _Optional[_Union[PriceStage, str]] = ..., rule_id: _Optional[str] = ..., description: _Optional[str] = ..., unit_price_before: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., unit_price_after: _Optional[_Union[_money_pb2.Money, _Mapping]] = ...) -> None: ...

class PriceQuote(_message.Message):
    __slots__ = ("sku", "quantity", "base_unit_price", "unit_price", "line_total", "steps")
    SKU_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    BASE_UNIT_PRICE_FIELD_NUMBER: _ClassVar[int]
    UNIT_PRICE_FIELD_NUMBER: _ClassVar[int]
    LINE_TOTAL_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    sku: str
    quantity: int
    base_unit_price: _money_pb2.Money
    unit_price: _money_pb2.Money
    line_total: _money_pb2.Money
    steps: _containers.RepeatedCompositeFieldContainer[QuoteStep]
    def __init__(self, sku: _Optional[str] = ..., quantity: _Optional[int] = ..., base_unit_price: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., unit_price: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., line_total: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., steps: _Optional[_Iterable[_Union[QuoteStep, _Mapping]]] = ...) -> None: ...

class CartQuote(_message.Message):
    __slots__ = ("lines", "total")
    LINES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    lines: _containers.RepeatedCompositeFieldContainer[PriceQuote]
    total: _money_pb2.Money
    def __init__(self, lines: _Optional[_Iterable[_Union[PriceQuote, _Mapping]]] = ..., total: _Optional[_Union[_money_pb2.Money, _Mapping]] = ...) -> None: ...

class QuotePriceRequest(_message.Message):
    __slots__ = ("sku", "quantity", "customer_tier", "price_time")
    SKU_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_TIER_FIELD_NUMBER: _ClassVar[int]
    PRICE_TIME_FIELD_NUMBER: _ClassVar[int]
    sku: str
    quantity: int
    customer_tier: str
    price_time: _timestamp_pb2.Timestamp
    def __init__(self, sku: _Optional[str] = ..., quantity: _Optional[int] = ..., customer_tier: _Optional[str] = ..., price_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class QuotePriceResponse(_message.Message):
    __slots__ = ("quote", "price_time")
    QUOTE_FIELD_NUMBER: _ClassVar[int]
    PRICE_TIME_FIELD_NUMBER: _ClassVar[int]
    quote: PriceQuote
    price_time: _timestamp_pb2.Timestamp
    def __init__(self, quote: _Optional[_Union[PriceQuote, _Mapping]] = ..., price_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CartLine(_message.Message):
    __slots__ = ("sku", "quantity")
    SKU_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    sku: str
    quantity: int
    def __init__(self, sku: _Optional[str] = ..., quantity: _Optional[int] = ...) -> None: ...

class QuoteCartRequest(_message.Message):
    __slots__ = ("lines", "customer_tier", "price_time")
    LINES_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_TIER_FIELD_NUMBER: _ClassVar[int]
    PRICE_TIME_FIELD_NUMBER: _ClassVar[int]
    lines: _containers.RepeatedCompositeFieldContainer[CartLine]
    customer_tier: str
    price_time: _timestamp_pb2.Timestamp
    def __init__(self, lines: _Optional[_Iterable[_Union[CartLine, _Mapping]]] = ..., customer_tier: _Optional[str] = ..., price_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class QuoteCartResponse(_message.Message):
    __slots__ = ("quote", "price_time")
    QUOTE_FIELD_NUMBER: _ClassVar[int]
    PRICE_TIME_FIELD_NUMBER: _ClassVar[int]
    quote: CartQuote
    price_time: _timestamp_pb2.Timestamp
    def __init__(self, quote: _Optional[_Union[CartQuote, _Mapping]] = ..., price_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class BatchQuoteCartsRequest(_message.Message):
    __slots__ = ("requests",)
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    requests: _containers.RepeatedCompositeFieldContainer[QuoteCartRequest]
    def __init__(self, requests: _Optional[_Iterable[_Union[QuoteCartRequest, _Mapping]]] = ...) -> None: ...

class BatchQuoteCartsResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[QuoteCartResult]
    def __init__(self, results: _Optional[_Iterable[_Union[QuoteCartResult, _Mapping]]] = ...) -> None: ...

class QuoteCartResult(_message.Message):
    __slots__ = ("response", "error")
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    response: QuoteCartResponse
    error: _status_pb2.Status
    def __init__(self, response: _Optional[_Union[QuoteCartResponse, _Mapping]] = ..., error: _Optional[_Union[_status_pb2.Status, _Mapping]] = ...) -> None: ...

class CreatePriceRuleRequest(_message.Message):
    __slots__ = ("request_id", "rule")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    rule: PriceRule
    def __init__(self, request_id: _Optional[str] = ..., rule: _Optional[_Union[PriceRule, _Mapping]] = ...) -> None: ...

class CreatePriceRuleResponse(_message.Message):
    __slots__ = ("rule",)
    RULE_FIELD_NUMBER: _ClassVar[int]
    rule: PriceRule
    def __init__(self, rule: _Optional[_Union[PriceRule, _Mapping]] = ...) -> None: ...

class GetPriceRuleRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetPriceRuleResponse(_message.Message):
    __slots__ = ("rule",)
    RULE_FIELD_NUMBER: _ClassVar[int]
    rule: PriceRule
    def __init__(self, rule: _Optional[_Union[PriceRule, _Mapping]] = ...) -> None: ...

class ListPriceRulesRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListPriceRulesResponse(_message.Message):
    __slots__ = ("rules", "next_page_token")
    RULES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    rules: _containers.RepeatedCompositeFieldContainer[PriceRule]
    next_page_token: str
    def __init__(self, rules: _Optional[_Iterable[_Union[PriceRule, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdatePriceRuleRequest(_message.Message):
    __slots__ = ("request_id", "rule", "update_mask")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    rule: PriceRule
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, request_id: _Optional[str] = ..., rule: _Optional[_Union[PriceRule, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class UpdatePriceRuleResponse(_message.Message):
    __slots__ = ("rule",)
    RULE_FIELD_NUMBER: _ClassVar[int]
    rule: PriceRule
    def __init__(self, rule: _Optional[_Union[PriceRule, _Mapping]] = ...) -> None: ...

class DeletePriceRuleRequest(_message.Message):
    __slots__ = ("request_id", "id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    id: str
    def __init__(self, request_id: _Optional[str] = ..., id: _Optional[str] = ...) -> None: ...

class DeletePriceRuleResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
