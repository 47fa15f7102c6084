import type { VerificationLimits } from '../services/verification';
import { intSetting } from './config';

/** The verification limits of this stage (catalog settings), read once per execution environment. */
export const verificationLimits = (): VerificationLimits => ({
  accountLimit: intSetting('verificationAccountLimit'),
  accountWindowSeconds: intSetting('verificationAccountWindowSeconds'),
  identifierLimit: intSetting('verificationIdentifierLimit'),
  identifierWindowSeconds: intSetting('verificationIdentifierWindowSeconds'),
});
