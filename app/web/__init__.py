"""HTTP layer: thin views that parse, call one service and serialize.

What every response shares is set here: the input gate before every view (input_gate.py), the
security headers after it, and the session cookie's flags (HttpOnly, SameSite=Lax; Secure outside
development, see app/config.py)."""
from .input_gate import INT_MAX, allow_upload_bodies, refuse_unstorable_input  # noqa: F401  (INT_MAX for views)

#: what the pages need and no more: our own scripts, styles, images and fetches; the inline <script>
#: and <style> blocks and style attributes the templates carry (hence 'unsafe-inline' — templates
#: would need a nonce on every inline script to drop it); data: images/fonts (the BPMN icon font,
#: inline SVG); no plugins, no foreign <base>, forms post only here, no framing by other sites.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self' 'unsafe-inline'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",  # no page is shown in a frame (clickjacking)
    "X-Content-Type-Options": "nosniff",  # a download is what its Content-Type says, never a script
    "Referrer-Policy": "same-origin",  # case numbers and tokens in URLs stay on this site
}


def security_headers(response):
    """after_request of the whole app: the headers of SECURITY_HEADERS on every response (a view
    that sets one itself keeps its own), and HSTS when served over HTTPS."""
    from flask import request
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response


def init_web(app):
    """The app-wide parts (home, sign-in, assets, errors, i18n) and one blueprint package per wing:
    api, admin, inbox, portal, feedback, designer."""
    from ..config import session_cookie_secure
    from . import admin, designer, feedback, inbox, ops, portal
    from .api import init_api
    from .assets import bp as assets_bp
    from .auth import bp as auth_bp
    from .auth import check_csrf, csrf_token, current_actor
    from .errors import init_errors
    from .home import bp as home_bp
    from .i18n import current_lang, gettext, page_script_texts
    from .i18n import init_app as init_i18n
    app.config["SESSION_COOKIE_SECURE"] = session_cookie_secure(app.config)
    init_i18n(app)
    init_api(app)
    init_errors(app)  # after flask-smorest, whose HTTPException handler ours replaces
    from .auth_mobile import bp as auth_mobile_bp  # mobile identity, trusted devices (issue 17)
    from .auth_cert import bp as auth_cert_bp  # certificate sign-in of staff (issue 17)
    for bp in (home_bp, auth_bp, auth_mobile_bp, auth_cert_bp, assets_bp):
        app.register_blueprint(bp)
    from .verify import bp as verify_bp  # electronic seals: /verify and 盖章签发 (issue 17)
    app.register_blueprint(verify_bp)
    from .inspection import bp as inspection_bp  # the inspectors' trail verification (issue 17)
    app.register_blueprint(inspection_bp)
    from .display import bp as display_bp  # matter names in the page language, 暂存 folded (issue 19)
    app.register_blueprint(display_bp)
    for wing in (admin, inbox, portal, feedback, designer, ops):
        for bp in wing.BLUEPRINTS:
            app.register_blueprint(bp)
    app.before_request(allow_upload_bodies)
    app.before_request(check_csrf)  # a forged request is refused as such, whatever it carries
    app.before_request(refuse_unstorable_input)  # then the one input gate, before any view
    app.after_request(security_headers)

    @app.context_processor
    def template_globals():
        return {"_": gettext, "lang": current_lang(), "page_script_texts": page_script_texts, "csrf_token": csrf_token, "actor": current_actor()}
