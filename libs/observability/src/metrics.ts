import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Pool } from 'pg';
import { DataSource } from 'typeorm';

/** Every metric the platform exports, on its own registry (so tests can run several apps). */
@Injectable()
export class Metrics {
  readonly registry = new Registry();

  readonly httpRequests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests by method, route pattern and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });

  readonly httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by route pattern',
    labelNames: ['method', 'route'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  readonly toolCalls = new Counter({
    name: 'mcp_tool_calls_total',
    help: 'MCP tool calls by tenant, tool, outcome (ok, error, denied) and protocol era (2026-07-28, 2025)',
    labelNames: ['tenant', 'tool', 'outcome', 'era'] as const,
    registers: [this.registry],
  });

  readonly mcpRequests = new Counter({
    name: 'mcp_requests_total',
    help: "Requests to tenant MCP endpoints by the protocol era (2026-07-28, 2025) and transport (streamable-http, sse) they were sent in, and whether the tenant's protocol posture allowed that era (allowed, refused)",
    labelNames: ['era', 'transport', 'posture'] as const,
    registers: [this.registry],
  });

  readonly toolDuration = new Histogram({
    name: 'mcp_tool_duration_seconds',
    help: 'MCP tool handler latency by tool',
    labelNames: ['tool'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
    registers: [this.registry],
  });

  readonly authFailures = new Counter({
    name: 'auth_failures_total',
    help: 'Refused credentials by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly rateLimited = new Counter({
    name: 'rate_limited_total',
    help: 'Requests refused with 429, by limit (key, tenant, auth-failures)',
    labelNames: ['limit'] as const,
    registers: [this.registry],
  });

  readonly openSessions = new Gauge({
    name: 'mcp_open_sessions',
    help: 'MCP sessions held by this process',
    registers: [this.registry],
  });

  readonly auditQueueDepth = new Gauge({
    name: 'audit_queue_depth',
    help: 'Audit events waiting to be written',
    registers: [this.registry],
  });

  readonly auditDropped = new Counter({
    name: 'audit_events_dropped_total',
    help: 'Audit events dropped because the queue was full while the database was unreachable',
    registers: [this.registry],
  });

  readonly auditWritten = new Counter({
    name: 'audit_events_written_total',
    help: 'Audit events written to the database',
    registers: [this.registry],
  });

  constructor(@InjectDataSource() db: DataSource) {
    collectDefaultMetrics({ register: this.registry });
    const pool = () => (db.driver as unknown as { master?: Pool }).master;
    for (const [name, help, read] of [
      ['db_pool_connections', 'Database pool connections', (p: Pool) => p.totalCount],
      ['db_pool_idle_connections', 'Idle database pool connections', (p: Pool) => p.idleCount],
      [
        'db_pool_waiting_clients',
        'Queries waiting for a database connection',
        (p: Pool) => p.waitingCount,
      ],
    ] as const) {
      new Gauge({
        name,
        help,
        registers: [this.registry],
        collect() {
          const p = pool();
          this.set(p ? read(p) : 0);
        },
      });
    }
  }
}
