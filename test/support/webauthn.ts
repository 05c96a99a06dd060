import { createHash, randomBytes, webcrypto } from "node:crypto";
import { isoCBOR } from "@simplewebauthn/server/helpers";

/**
 * A software authenticator for ceremony tests: a real P-256 key pair per credential, and real
 * attestation (`none` or `packed` self-attestation) and assertion objects, built byte by byte as
 * the WebAuthn spec lays them out. Tests can lie about the origin, the RP ID or the counter to
 * check that the server notices.
 */

const FLAG_UP = 0x01;
const FLAG_UV = 0x04;
const FLAG_BE = 0x08;
const FLAG_BS = 0x10;
const FLAG_AT = 0x40;

const b64url = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64url");
const sha256 = (bytes: Uint8Array | string) =>
  new Uint8Array(createHash("sha256").update(bytes).digest());

type Credential = {
  id: Uint8Array;
  keys: webcrypto.CryptoKeyPair;
  rpId: string;
  userHandle: string;
  counter: number;
};

export type CeremonyOverrides = {
  origin?: string;
  rpId?: string;
  challenge?: string;
  type?: string;
  /** Force this sign counter (e.g. lower than before, to look like a cloned authenticator). */
  counter?: number;
  userVerified?: boolean;
  /** Register under this credential id (base64url), e.g. one another account already has. */
  credentialId?: string;
};

type CreationOptions = { challenge: string; rp: { id?: string }; user: { id: string } };
type RequestOptions = { challenge: string; rpId?: string; allowCredentials?: { id: string }[] };

export class SoftwareAuthenticator {
  private readonly credentials: Credential[] = [];

  constructor(
    readonly origin: string,
    private readonly format: "none" | "packed" = "none",
    /** Backup eligible and backed up, like a synced passkey. */
    private readonly backedUp = true,
  ) {}

  get credentialIds(): string[] {
    return this.credentials.map((c) => b64url(c.id));
  }

  /** Answers `navigator.credentials.create(options)` as @simplewebauthn/browser would serialise it. */
  async create(options: CreationOptions, overrides: CeremonyOverrides = {}) {
    const rpId = overrides.rpId ?? options.rp.id ?? new URL(this.origin).hostname;
    const keys = (await webcrypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
      "sign",
      "verify",
    ])) as webcrypto.CryptoKeyPair;
    const credential: Credential = {
      id: new Uint8Array(
        overrides.credentialId === undefined
          ? randomBytes(32)
          : Buffer.from(overrides.credentialId, "base64url"),
      ),
      keys,
      rpId,
      userHandle: options.user.id,
      counter: 0,
    };
    const clientDataJSON = this.clientData("webauthn.create", options.challenge, overrides);
    const jwk = await webcrypto.subtle.exportKey("jwk", keys.publicKey);
    const cose = isoCBOR.encode(
      new Map<number, number | Uint8Array>([
        [1, 2], // kty: EC2
        [3, -7], // alg: ES256
        [-1, 1], // crv: P-256
        [-2, new Uint8Array(Buffer.from(jwk.x ?? "", "base64url"))],
        [-3, new Uint8Array(Buffer.from(jwk.y ?? "", "base64url"))],
      ]),
    );
    const attested = concat(new Uint8Array(16), u16(credential.id.length), credential.id, cose);
    const authData = concat(
      sha256(rpId),
      new Uint8Array([this.flags(overrides) | FLAG_AT]),
      u32(overrides.counter ?? 0),
      attested,
    );
    const attStmt =
      this.format === "packed"
        ? new Map<string, number | Uint8Array>([
            ["alg", -7],
            ["sig", await this.sign(keys.privateKey, concat(authData, sha256(clientDataJSON)))],
          ])
        : new Map<string, never>();
    const attestationObject = isoCBOR.encode(
      new Map<string, string | Uint8Array | Map<string, number | Uint8Array>>([
        ["fmt", this.format],
        ["attStmt", attStmt],
        ["authData", authData],
      ]),
    );
    this.credentials.push(credential);
    const id = b64url(credential.id);
    return {
      id,
      rawId: id,
      type: "public-key" as const,
      response: {
        clientDataJSON: b64url(clientDataJSON),
        attestationObject: b64url(attestationObject),
        transports: ["internal" as const],
      },
      clientExtensionResults: {},
      authenticatorAttachment: "platform" as const,
    };
  }

  /** Answers `navigator.credentials.get(options)`; picks an allowed credential, else the first. */
  async get(options: RequestOptions, overrides: CeremonyOverrides = {}) {
    const allowed = options.allowCredentials?.map((c) => c.id) ?? [];
    const credential =
      this.credentials.find((c) => allowed.length === 0 || allowed.includes(b64url(c.id))) ??
      this.credentials[0];
    if (!credential) throw new Error("this authenticator holds no credential");
    credential.counter = overrides.counter ?? credential.counter + 1;
    const rpId = overrides.rpId ?? options.rpId ?? credential.rpId;
    const clientDataJSON = this.clientData("webauthn.get", options.challenge, overrides);
    const authData = concat(
      sha256(rpId),
      new Uint8Array([this.flags(overrides)]),
      u32(credential.counter),
    );
    const signature = await this.sign(
      credential.keys.privateKey,
      concat(authData, sha256(clientDataJSON)),
    );
    const id = b64url(credential.id);
    return {
      id,
      rawId: id,
      type: "public-key" as const,
      response: {
        clientDataJSON: b64url(clientDataJSON),
        authenticatorData: b64url(authData),
        signature: b64url(signature),
        userHandle: credential.userHandle,
      },
      clientExtensionResults: {},
      authenticatorAttachment: "platform" as const,
    };
  }

  private flags(overrides: CeremonyOverrides): number {
    let flags = FLAG_UP;
    if (overrides.userVerified ?? true) flags |= FLAG_UV;
    if (this.backedUp) flags |= FLAG_BE | FLAG_BS;
    return flags;
  }

  private clientData(type: string, challenge: string, overrides: CeremonyOverrides): Uint8Array {
    return new TextEncoder().encode(
      JSON.stringify({
        type: overrides.type ?? type,
        challenge: overrides.challenge ?? challenge,
        origin: overrides.origin ?? this.origin,
        crossOrigin: false,
      }),
    );
  }

  /** WebAuthn wants ECDSA signatures DER-encoded; WebCrypto gives r‖s. */
  private async sign(key: webcrypto.CryptoKey, data: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
    const raw = new Uint8Array(
      await webcrypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, key, data),
    );
    return derSignature(raw.slice(0, 32), raw.slice(32));
  }
}

function derInteger(bytes: Uint8Array): Uint8Array {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  let body = bytes.slice(i);
  if ((body[0] ?? 0) & 0x80) body = concat(new Uint8Array([0]), body);
  return concat(new Uint8Array([0x02, body.length]), body);
}

function derSignature(r: Uint8Array, s: Uint8Array): Uint8Array {
  const body = concat(derInteger(r), derInteger(s));
  return concat(new Uint8Array([0x30, body.length]), body);
}

function concat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

function u16(n: number): Uint8Array {
  return new Uint8Array([(n >> 8) & 0xff, n & 0xff]);
}

function u32(n: number): Uint8Array {
  return new Uint8Array([(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
}
