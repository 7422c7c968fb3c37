import 'source-map-support/register';
import { bootstrap } from '../../apps/platform/src/bootstrap';
import { BenchPlatformModule } from './bench-platform.module';

// The platform exactly as `npm start` runs it, with the benchmark-only tool pack (BENCH_TOOL_PACK).
bootstrap((config) => BenchPlatformModule.forRoot(config));
