import { Injectable } from '@nestjs/common';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';

/** Most URIs one session may watch: subscriptions are held in memory. */
export const MAX_SUBSCRIPTIONS_PER_SESSION = 100;

/** The URIs each 2025 session subscribed to (`resources/subscribe`), kept with its SDK server. */
@Injectable()
export class ResourceSubscriptions {
  private readonly bySession = new WeakMap<Server, Set<string>>();

  /** False when the session already watches as many URIs as it may. */
  add(server: Server, uri: string): boolean {
    let uris = this.bySession.get(server);
    if (!uris) this.bySession.set(server, (uris = new Set()));
    if (!uris.has(uri) && uris.size >= MAX_SUBSCRIPTIONS_PER_SESSION) return false;
    uris.add(uri);
    return true;
  }

  remove(server: Server, uri: string): void {
    this.bySession.get(server)?.delete(uri);
  }

  watches(server: Server, uri: string): boolean {
    return this.bySession.get(server)?.has(uri) ?? false;
  }
}
