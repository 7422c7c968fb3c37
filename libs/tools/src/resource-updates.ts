import { Injectable } from '@nestjs/common';
import { ChangeFeed, type ReplicaTopic } from '@app/tenancy';

/** A resource of a tenant whose content changed (or that is gone). */
export interface ResourceUpdate {
  tenantId: string;
  uri: string;
}

/**
 * Where capability code says "this resource changed": every replica hears it, so a session that
 * subscribed to the URI is told, wherever it is held.
 */
@Injectable()
export class ResourceUpdates {
  private readonly topic: ReplicaTopic<ResourceUpdate>;

  constructor(changes: ChangeFeed) {
    this.topic = changes.topic<ResourceUpdate>('resources');
  }

  updated(tenantId: string, ...uris: string[]): void {
    for (const uri of uris) this.topic.publish({ tenantId, uri });
  }

  subscribe(listener: (update: ResourceUpdate) => void): () => void {
    return this.topic.subscribe(listener);
  }
}
