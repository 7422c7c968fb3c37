import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { DatabaseModule } from '@app/database';
import { ObservabilityModule } from '@app/observability';
import { HealthController } from './health.controller';
import { MetricsController } from './metrics.controller';

/** The operator's endpoints: liveness, readiness and Prometheus metrics. */
@Module({
  imports: [DatabaseModule, ObservabilityModule, TerminusModule.forRoot({ logger: false })],
  controllers: [HealthController, MetricsController],
})
export class OpsModule {}
