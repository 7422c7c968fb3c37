import { Controller, Delete, Get, Post, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Response } from 'express';
import { Authenticated } from '@app/auth';
import { TENANT_ROUTE } from '@app/config';
import { EraRouter } from './eras/era-router';
import type { McpRequest } from './mcp-exchange';

/**
 * The hosted MCP endpoints of each tenant. The global guard has already resolved the tenant and
 * authenticated this very request; the router picks the protocol era's serving strategy.
 */
@ApiExcludeController()
@Authenticated('tenant-member')
@Controller(TENANT_ROUTE)
export class McpController {
  constructor(private readonly router: EraRouter) {}

  @Post('mcp')
  post(@Req() req: McpRequest, @Res() res: Response): Promise<void> {
    return this.router.serve({ req, res, endpoint: 'mcp', arrivedAt: Date.now() });
  }

  @Get('mcp')
  stream(@Req() req: McpRequest, @Res() res: Response): Promise<void> {
    return this.router.serve({ req, res, endpoint: 'mcp', arrivedAt: Date.now() });
  }

  @Delete('mcp')
  end(@Req() req: McpRequest, @Res() res: Response): Promise<void> {
    return this.router.serve({ req, res, endpoint: 'mcp', arrivedAt: Date.now() });
  }

  /** Legacy HTTP+SSE transport (protocol 2024-11-05): the event stream. */
  @Get('sse')
  sse(@Req() req: McpRequest, @Res() res: Response): Promise<void> {
    return this.router.serve({ req, res, endpoint: 'sse', arrivedAt: Date.now() });
  }

  /** Legacy HTTP+SSE transport: client-to-server messages. */
  @Post('messages')
  messages(@Req() req: McpRequest, @Res() res: Response): Promise<void> {
    return this.router.serve({ req, res, endpoint: 'messages', arrivedAt: Date.now() });
  }
}
