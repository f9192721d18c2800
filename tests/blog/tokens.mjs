// tests/blog/tokens.mjs: hand-made JWTs for the refusal tests: expired, alg none, HS256 keyed
// with the public key's PEM, tampered claims, signed by a stranger's key. Node's crypto signs
// ES256 with ieee-p1363 (r || s), the JOSE form.
import { createHmac, createSign, generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';

const b64u = (b) => Buffer.from(b).toString('base64url');

export function jwt(header, claims, sign) {
    const input = `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(claims))}`;
    return `${input}.${sign ? sign(input) : ''}`;
}

export function es256(privatePem) {
    return (input) => {
        const s = createSign('SHA256');
        s.update(input);
        return s.sign({ key: privatePem, dsaEncoding: 'ieee-p1363' }).toString('base64url');
    };
}

export function hs256(secret) {
    return (input) => createHmac('sha256', secret).update(input).digest('base64url');
}

export function claimsFor(sub, username, { exp = 3600, iat = 0 } = {}) {
    const now = Math.floor(Date.now() / 1000);
    return { sub: String(sub), username, iat: now + iat, exp: now + exp };
}

// Every token a service must refuse with 401, given the system's keys and a real user.
export function forgedTokens(sys, sub, username) {
    const priv = fs.readFileSync(sys.privateKey, 'utf8');
    const pub = fs.readFileSync(sys.publicKey, 'utf8');
    const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' });
    const good = jwt({ alg: 'ES256', typ: 'JWT' }, claimsFor(sub, username), es256(priv));
    const [h, , s] = good.split('.');
    const tampered = `${h}.${b64u(JSON.stringify(claimsFor(sub === '1' ? '2' : '1', username)))}.${s}`;
    return {
        expired: jwt({ alg: 'ES256', typ: 'JWT' }, claimsFor(sub, username, { exp: -3600, iat: -7200 }), es256(priv)),
        algNone: jwt({ alg: 'none', typ: 'JWT' }, claimsFor(sub, username)),
        hs256WithPublicKey: jwt({ alg: 'HS256', typ: 'JWT' }, claimsFor(sub, username), hs256(pub)),
        tampered,
        badSignature: `${good.slice(0, -4)}AAAA`,
        strangerKey: jwt({ alg: 'ES256', typ: 'JWT' }, claimsFor(sub, username), es256(stranger)),
        garbage: 'not.a.token',
    };
}
