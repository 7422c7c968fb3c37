import { Global, Module } from '@nestjs/common';
import { EgressPolicy } from './egress-policy';

@Global()
@Module({ providers: [EgressPolicy], exports: [EgressPolicy] })
export class EgressModule {}
