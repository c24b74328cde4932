"""The federation protocol's endpoints (docs/federation.md): other platforms of the 省市县 network
POST signed messages here. No token: a message is authenticated by its Ed25519 signature with the key
registered for its sending region."""
from __future__ import annotations

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from ...domain.errors import ConcurrentChange, DomainError
from ...services.federation.peers import FederationNotConfigured, whoami
from ...services.federation.protocol import KINDS, LEVELS, ProtocolError
from ...services.federation.transport import accept, ping_answer
from ...services.messaging.inbox import Refusal
from ..errors import domain_answer
from .routes import PUBLIC, SEMANTIC

federation_bp = Blueprint("federation", __name__, url_prefix="/api/federation",
                          description="省市县三级联动 (the federation protocol between platforms)")


class EnvelopeIn(Schema):
    """A signed message (docs/federation.md). The signature covers the canonical bytes of every
    other field; the server reads the body as sent, so no field may be added or changed."""
    v = fields.Integer(required=True, validate=validate.Equal(1))
    alg = fields.String(required=True, validate=validate.Equal("ed25519"))
    id = fields.UUID(required=True, metadata={"description": "the message's id, the same on every attempt"})
    from_ = fields.String(required=True, data_key="from", validate=validate.Regexp(r"^[1-9]\d{5}$"),
                          metadata={"description": "the sending platform's region (GB/T 2260)"})
    to = fields.String(required=True, validate=validate.Regexp(r"^[1-9]\d{5}$"))
    seq = fields.Integer(required=True, validate=validate.Range(min=1, max=2 ** 31 - 1),
                         metadata={"description": "1, 2, 3 … per link (sender → receiver) in the order written"})
    ts = fields.String(required=True, validate=validate.Regexp(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$"),
                       metadata={"description": "when this attempt was signed (UTC); refused beyond the "
                                                "receiver's allowed skew (300 s by default)"})
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    body = fields.Dict(required=True)
    sig = fields.String(required=True, metadata={"description": "Base64 of the Ed25519 signature (64 bytes)"})


class DeliveredOut(Schema):
    answer = fields.Dict(required=True, metadata={"description": "the receiver's answer (its case number …)"})
    duplicate = fields.Boolean(required=True, metadata={
        "description": "true: this message id was applied before; the first answer is repeated, nothing changed"})


class PingOut(Schema):
    region = fields.String(required=True)
    level = fields.String(required=True, validate=validate.OneOf(LEVELS))
    name = fields.String(required=True)
    echo = fields.UUID(required=True, metadata={"description": "the ping's id"})
    ts = fields.String(required=True)
    sig = fields.String(required=True, metadata={
        "description": "Base64 Ed25519 signature of this platform over the canonical bytes of the other fields"})


class WhoamiOut(Schema):
    region = fields.String(required=True)
    level = fields.String(required=True, validate=validate.OneOf(LEVELS))
    name = fields.String(required=True)
    base_url = fields.String(allow_none=True)
    public_key = fields.String(allow_none=True, metadata={"description": "ed25519:<Base64>; null: no key yet"})


def refusal_answer(exc):
    """A ProtocolError or inbox Refusal as the platform's error answer (its status and code)."""
    error = DomainError(exc.message)
    error.status, error.code = exc.status, exc.code
    return domain_answer(error)


ENVELOPE_BODY = {"required": True, "content": {"application/json": {"schema": EnvelopeIn}}}
REFUSALS = {
    "401": {"description": "bad_signature, or stale (signed too far from this platform's clock)",
            "content": {"application/json": {"schema": "Error"}}},
    "403": {"description": "unknown_peer: the sending region is not a registered, enabled peer",
            "content": {"application/json": {"schema": "Error"}}},
    "409": {"description": "replay: the link's sequence number was received with another message id",
            "content": {"application/json": {"schema": "Error"}}},
    "421": {"description": "wrong_recipient: addressed to another region",
            "content": {"application/json": {"schema": "Error"}}},
    "422": {"description": "not a valid envelope (bad_envelope, unsupported_version, unsupported_algorithm, "
                           "unknown_kind: also a value the schema admits but the protocol does not, such as a "
                           "date that does not exist or a fraction in body), or content the receiver refuses "
                           "(unsupported_kind, unknown_matter, bad_material …)",
            "content": {"application/json": {"schema": "Error"}}},
    "503": {"description": "not_configured: this platform has no signing key yet; concurrent_change: the "
                           "message lost a race with another change of its case and nothing of it was "
                           "applied (send it again: the next attempt is applied once)",
            "content": {"application/json": {"schema": "Error"}}},
}


@federation_bp.route("/messages")
class Messages(MethodView):
    @federation_bp.doc(security=PUBLIC, requestBody=ENVELOPE_BODY, responses=REFUSALS, **SEMANTIC)
    @federation_bp.response(200, DeliveredOut)
    def post(self):
        """Deliver one signed message; applied once (a repeat answers ``duplicate: true``)."""
        try:
            answer, duplicate = accept(request.get_json(silent=True), request.remote_addr or "")
        except (ProtocolError, Refusal) as exc:
            return refusal_answer(exc)
        except FederationNotConfigured as exc:
            return refusal_answer(ProtocolError("not_configured", str(exc), 503))
        except ConcurrentChange:
            # lost to another change of the case (the inbox rolled it back whole): not the message's
            # fault, and a 4xx would make it the sender's dead letter; a 5xx is sent again
            return refusal_answer(ProtocolError("concurrent_change", "办件同时有其他操作，本条消息未生效，请稍后重发 "
                                                "(concurrent change: nothing applied, send it again)", 503))
        return {"answer": answer, "duplicate": duplicate}


@federation_bp.route("/ping")
class Ping(MethodView):
    @federation_bp.doc(security=PUBLIC, requestBody=ENVELOPE_BODY, responses=REFUSALS, **SEMANTIC)
    @federation_bp.response(200, PingOut)
    def post(self):
        """A signed ping (kind ``ping``): answered with this platform's identity, signed over the ping's id."""
        try:
            return ping_answer(request.get_json(silent=True), request.remote_addr or "")
        except ProtocolError as exc:
            return refusal_answer(exc)
        except FederationNotConfigured as exc:
            return refusal_answer(ProtocolError("not_configured", str(exc), 503))


@federation_bp.route("/whoami")
class Whoami(MethodView):
    @federation_bp.doc(security=PUBLIC)
    @federation_bp.response(200, WhoamiOut)
    def get(self):
        """This platform's region, level, name and public key (what a peer registers)."""
        return whoami()

