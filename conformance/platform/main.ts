import 'source-map-support/register';
import { bootstrap } from '../../apps/platform/src/bootstrap';
import { ConformancePlatformModule } from './conformance-platform.module';

// The platform exactly as `npm start` runs it, with the MCP conformance suite's fixtures
// (scripts/conformance.js runs this).
bootstrap((config) => ConformancePlatformModule.forRoot(config));
