import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import {
  HealthCheck,
  HealthCheckService,
  HealthIndicatorResult,
  HealthIndicatorService,
  TypeOrmHealthIndicator,
} from '@nestjs/terminus';
import { Public } from '@app/auth';
import { DatabaseHealth } from '@app/database';

@ApiTags('health')
@Public()
@Controller()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly db: TypeOrmHealthIndicator,
    private readonly indicators: HealthIndicatorService,
    private readonly database: DatabaseHealth,
  ) {}

  @Get('healthz')
  @ApiOperation({ summary: 'Liveness: the process is up' })
  live() {
    return { status: 'ok' };
  }

  @Get('readyz')
  @HealthCheck()
  @ApiOperation({ summary: 'Readiness: the database answers (503 when it does not)' })
  ready() {
    return this.health.check([() => this.databaseCheck()]);
  }

  /**
   * During a known outage the answer is immediate (DatabaseHealth probes the database meanwhile
   * and ends the outage): no ping is added to a hung server's queue per readiness probe. Otherwise
   * a ping, whose failure is reported like any request refused for the database. Either way a 503
   * here counts among the requests refused during the outage.
   */
  private async databaseCheck(): Promise<HealthIndicatorResult> {
    const outage = this.database.outage();
    if (outage) {
      this.database.unavailable(new Error('readiness check during the outage'));
      const since = new Date(outage.since).toISOString();
      return this.indicators.check('database').down({ message: `unavailable since ${since}` });
    }
    const result = await this.db.pingCheck('database', { timeout: 2000 });
    if (result.database?.status === 'down') {
      const message = (result.database as { message?: unknown }).message;
      this.database.unavailable(
        new Error(typeof message === 'string' ? message : 'readiness ping failed'),
      );
    }
    return result;
  }
}
