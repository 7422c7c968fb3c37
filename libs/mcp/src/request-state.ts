import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { PlatformConfig } from '@app/config';
import { PlatformSecrets } from '@app/tenancy';
import type { InputResponse } from '@app/tools';
import { SessionDirectory } from './session-directory';

/** What a sealed state belongs to: it opens only for the same tenant, principal and request. */
export interface StateBinding {
  tenantId: string;
  principalId: string;
  /** `tools/call`, `prompts/get`, `resources/read`. */
  method: string;
  /** The tool or prompt name, or the resource URI. */
  target: string;
  /** The call's arguments (tools, prompts), as sent. */
  args: unknown;
}

interface Sealed {
  /** The answers of every earlier round. */
  answers: Record<string, InputResponse>;
  exp: number;
}

const VERSION = 'v1';

function bindingOf(b: StateBinding): Buffer {
  const args = createHash('sha256')
    .update(JSON.stringify(b.args ?? null))
    .digest('base64url');
  return Buffer.from(JSON.stringify([b.tenantId, b.principalId, b.method, b.target, args]), 'utf8');
}

export class RequestStateRefused extends Error {}

/**
 * The `requestState` of the 2026-07-28 era's `input_required` results, sealed by the platform:
 * AES-256-GCM under a key derived from the platform secret, the binding (tenant, principal,
 * method, target, arguments) as associated data, an expiry inside, and a nonce that opens once —
 * so a state the client changed, one it sends for another request or principal, an expired one
 * and a replayed one are all refused. The client learns nothing from it (the answers inside are
 * its own, but encrypted all the same).
 */
@Injectable()
export class RequestStateSealer {
  private readonly ttlMs: number;

  constructor(
    private readonly secrets: PlatformSecrets,
    private readonly directory: SessionDirectory,
    config: PlatformConfig,
  ) {
    this.ttlMs = config.requestStateTtlMs;
  }

  seal(binding: StateBinding, answers: Record<string, InputResponse>): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.secrets.key('request-state'), iv);
    cipher.setAAD(bindingOf(binding));
    const body: Sealed = { answers, exp: Date.now() + this.ttlMs };
    const data = Buffer.concat([cipher.update(JSON.stringify(body), 'utf8'), cipher.final()]);
    return [
      VERSION,
      iv.toString('base64url'),
      data.toString('base64url'),
      cipher.getAuthTag().toString('base64url'),
    ].join('.');
  }

  /** The answers sealed in a state; throws RequestStateRefused with a reason a client can act on. */
  async open(state: string, binding: StateBinding): Promise<Record<string, InputResponse>> {
    const [version, iv, data, tag, ...rest] = state.split('.');
    if (version !== VERSION || !iv || !data || !tag || rest.length) {
      throw new RequestStateRefused('requestState is not one this server issued');
    }
    let body: Sealed;
    try {
      const decipher = createDecipheriv(
        'aes-256-gcm',
        this.secrets.key('request-state'),
        Buffer.from(iv, 'base64url'),
      );
      decipher.setAAD(bindingOf(binding));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      const plain = Buffer.concat([
        decipher.update(Buffer.from(data, 'base64url')),
        decipher.final(),
      ]);
      body = JSON.parse(plain.toString('utf8')) as Sealed;
    } catch {
      throw new RequestStateRefused(
        'requestState failed its integrity check: it was changed, or it belongs to another request or credential',
      );
    }
    if (!(body.exp > Date.now())) {
      throw new RequestStateRefused(
        'requestState has expired: call again without it to start over',
      );
    }
    if (!(await this.directory.claimOnce(`state:${tag}`, this.ttlMs))) {
      throw new RequestStateRefused(
        'requestState was already used: each one is good for one retry; call again without it to start over',
      );
    }
    return body.answers ?? {};
  }
}
