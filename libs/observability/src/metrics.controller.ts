import { createHash, timingSafeEqual } from 'node:crypto';
import { Controller, Get, Headers, Res, UnauthorizedException } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { Public } from '@app/auth';
import { PlatformConfig } from '@app/config';
import { Metrics } from './metrics';

const digest = (s: string) => createHash('sha256').update(s).digest();

@ApiTags('health')
@Public()
@Controller('metrics')
export class MetricsController {
  private readonly expected?: Buffer;

  constructor(
    private readonly metrics: Metrics,
    config: PlatformConfig,
  ) {
    this.expected = config.metricsToken ? digest(config.metricsToken) : undefined;
  }

  @Get()
  @ApiOperation({ summary: 'Prometheus metrics (Bearer METRICS_TOKEN when one is configured)' })
  async scrape(@Headers('authorization') authorization: string | undefined, @Res() res: Response) {
    if (this.expected) {
      const token = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1] ?? '';
      if (!timingSafeEqual(digest(token), this.expected)) {
        res.setHeader('WWW-Authenticate', 'Bearer realm="metrics"');
        throw new UnauthorizedException('metrics need `Authorization: Bearer <METRICS_TOKEN>`');
      }
    }
    res.setHeader('Content-Type', this.metrics.registry.contentType);
    res.send(await this.metrics.registry.metrics());
  }
}
