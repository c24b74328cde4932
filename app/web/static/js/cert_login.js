/* 数字证书登录 (certificate sign-in): read the certificates of the local key client, ask the server for a
 * single-use nonce, have the key client sign the server's ``to_sign`` ("yg-cert-login-v1|<origin>|<nonce>",
 * never the bare nonce), post certificate + signature + nonce.
 *
 * The key client speaks the JSON interface of docs/identity.md (GET /certs, GET /certs/<id>, POST /sign).
 * A vendor's client with another interface is plugged in by an adapter script loaded before this one,
 * which sets window.CertKeyClientAdapter = {listCerts(), getCert(id), sign(id, dataB64, pin)} (promises
 * with the same shapes as the default adapter below). */
(function () {
  'use strict';
  var box = document.getElementById('cert-login');
  if (!box) { return; }
  var status = document.getElementById('cert-status');
  var select = document.getElementById('cert-select');
  var base = (box.dataset.keyclient || '').replace(/\/+$/, '');
  // the page language through t() of static/js/i18n.js (English from the catalog, window.YG_I18N);
  // the English after each msgid is the fallback while a page has no catalog
  var en = (document.documentElement.lang || 'zh').indexOf('en') === 0;
  function tr(msgid, english) {
    var text = window.t ? window.t(msgid) : msgid;
    return en && text === msgid ? english : text;
  }
  var T = {
    down: tr('未检测到证书客户端（USB Key 驱动）：请确认已插入证书并启动证书客户端',
             'No certificate client found: insert your USB key and start its client'),
    none: tr('未读取到证书：请插入数字证书（USB Key）', 'No certificate found: insert your USB key'),
    reading: tr('正在读取证书…', 'Reading certificates…'), signing: tr('正在签名…', 'Signing…'),
    pin: tr('请输入PIN码', 'Enter the PIN'), fail: tr('登录失败', 'Sign-in failed'),
    ok: tr('登录成功，正在跳转…', 'Signed in, redirecting…')
  };

  function say(text, bad) {
    status.textContent = text;
    status.className = bad ? 'error' : 'muted';
  }

  function clientCall(path, options) {
    return fetch(base + path, options).catch(function () { throw new Error(T.down); }).then(function (resp) {
      return resp.json().catch(function () { return {}; }).then(function (body) {
        if (!resp.ok) { throw new Error(body.message || body.error || (T.down + ' (HTTP ' + resp.status + ')')); }
        return body;
      });
    });
  }

  var defaultAdapter = {
    listCerts: function () { return clientCall('/certs').then(function (b) { return b.certs || []; }); },
    getCert: function (id) {
      return clientCall('/certs/' + encodeURIComponent(id)).then(function (b) { return b.certificate; });
    },
    sign: function (id, dataB64, pin) {
      return clientCall('/sign', {method: 'POST', headers: {'Content-Type': 'application/json'},
        body: JSON.stringify({id: id, data_b64: dataB64, pin: pin, format: 'der'})})
        .then(function (b) { return b.signature; });
    }
  };
  var client = window.CertKeyClientAdapter || defaultAdapter;

  function server(url, body) {
    return fetch(url, {method: 'POST', credentials: 'same-origin',
      headers: {'Content-Type': 'application/json', 'X-CSRF-Token': box.dataset.csrf},
      body: JSON.stringify(body || {})}).then(function (resp) {
      return resp.json().catch(function () { return {error: T.fail + ' (HTTP ' + resp.status + ')'}; })
        .then(function (b) { if (!resp.ok) { throw new Error(b.error || T.fail); } return b; });
    });
  }

  function utf8Base64(text) {
    var bytes = new TextEncoder().encode(text), bin = '';
    for (var i = 0; i < bytes.length; i++) { bin += String.fromCharCode(bytes[i]); }
    return btoa(bin);
  }

  document.getElementById('cert-read').addEventListener('click', function () {
    say(T.reading);
    client.listCerts().then(function (certs) {
      select.innerHTML = '';
      certs.forEach(function (c) {
        var opt = document.createElement('option');
        opt.value = c.id;
        opt.textContent = (c.subject || c.id) + (c.issuer ? ' · ' + c.issuer : '') + (c.not_after ? ' · ' + c.not_after.slice(0, 10) : '');
        select.appendChild(opt);
      });
      document.getElementById('cert-form').hidden = !certs.length;
      say(certs.length ? '' : T.none, !certs.length);
    }).catch(function (e) { say(e.message, true); });
  });

  document.getElementById('cert-sign').addEventListener('click', function () {
    var id = select.value, pin = document.getElementById('cert-pin').value;
    if (!pin) { say(T.pin, true); return; }
    say(T.signing);
    var nonce, toSign, certificate;
    server(box.dataset.challenge).then(function (c) {
      nonce = c.nonce;
      toSign = c.to_sign;
      return client.getCert(id);
    }).then(function (cert) {
      certificate = cert;
      return client.sign(id, utf8Base64(toSign), pin);
    }).then(function (signature) {
      return server(box.dataset.login, {certificate: certificate, signature: signature, nonce: nonce});
    }).then(function (r) {
      say(T.ok);
      window.location.assign(r.redirect || '/');
    }).catch(function (e) { say(e.message, true); });
  });
}());
