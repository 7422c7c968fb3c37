export { isRefusedAddress } from './address-policy';
export { EgressPolicy, type EgressInit } from './egress-policy';
export { EgressModule } from './egress.module';
export { EgressRefused, EgressTimeout, ResponseTooLarge, type EgressRefusal } from './errors';
export { readBodyCapped } from './read-body';
