/**
 * Delivery of one-time codes to people outside the service: SMS through
 * Amazon SNS (a direct publish to a phone number, as a transactional
 * message) and email through Amazon SES from the stage's verified identity.
 * The local stack installs its own transport (`useTransport`), which records
 * what would have been sent in its outbox (`GET /_local/outbox`); nothing
 * else ever replaces the AWS one. Neither the destination nor the text is
 * ever logged.
 */
import { PublishCommand } from '@aws-sdk/client-sns';
import { SESv2Client, SendEmailCommand } from '@aws-sdk/client-sesv2';
import type { Channel } from '../../catalog';
import { SDK_MAX_ATTEMPTS } from './aws';
import { setting } from './config';
import { sns } from './sns';

export interface Delivery {
  readonly channel: Channel;
  /** E.164 number or address. */
  readonly to: string;
  readonly subject: string;
  readonly text: string;
  /** The code the text carries; only the local outbox shows it on its own. */
  readonly code: string;
}

export type Transport = (delivery: Delivery) => Promise<void>;

let ses: SESv2Client | undefined;

const awsTransport: Transport = async (delivery) => {
  if (delivery.channel === 'sms') {
    await sns.send(
      new PublishCommand({
        PhoneNumber: delivery.to,
        Message: delivery.text,
        MessageAttributes: { 'AWS.SNS.SMS.SMSType': { DataType: 'String', StringValue: 'Transactional' } },
      }),
    );
    return;
  }
  ses ??= new SESv2Client({ maxAttempts: SDK_MAX_ATTEMPTS });
  await ses.send(
    new SendEmailCommand({
      FromEmailAddress: setting('verificationEmailFrom'),
      Destination: { ToAddresses: [delivery.to] },
      Content: { Simple: { Subject: { Data: delivery.subject, Charset: 'UTF-8' }, Body: { Text: { Data: delivery.text, Charset: 'UTF-8' } } } },
    }),
  );
};

let transport: Transport = awsTransport;

/** Replaces the AWS transport (the local stack's outbox). */
export function useTransport(replacement: Transport): void {
  transport = replacement;
}

export const deliver = (delivery: Delivery): Promise<void> => transport(delivery);
