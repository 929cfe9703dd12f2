"""The values the Mailchimp Marketing client takes and returns for audiences and segments, and
how Mailchimp names an audience member. No SDK here: importing this module is cheap."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


def subscriber_hash(email: str) -> str:
    """Mailchimp's id of an audience member: the MD5 of the lower-cased address. It names the
    member in every member call, and still after the address is erased here."""
    return hashlib.md5(email.lower().encode("utf-8"), usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class AudienceMember:
    email: str
    merge_fields: Mapping[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    status: str = "subscribed"


@dataclass(frozen=True)
class MergeField:
    tag: str
    name: str
    type: str = "text"


@dataclass(frozen=True)
class MemberRecord:
    subscriber_hash: str
    email: str
    status: str


@dataclass(frozen=True)
class MemberError:
    email: str
    code: str
    message: str


@dataclass(frozen=True)
class MemberBatchResult:
    created: int = 0
    updated: int = 0
    errors: tuple[MemberError, ...] = ()


@dataclass(frozen=True)
class SegmentChange:
    added: int = 0
    removed: int = 0
    not_on_list: tuple[str, ...] = ()


def batch_entry(member: AudienceMember) -> dict[str, Any]:
    entry: dict[str, Any] = {"email_address": member.email, "status": member.status}
    if member.merge_fields:
        entry["merge_fields"] = dict(member.merge_fields)
    if member.tags:
        entry["tags"] = list(member.tags)
    return entry
