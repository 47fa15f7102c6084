/** The seed story's policy: the app will share the account's phone number with its parent company. */
export const SEED_POLICY = {
  version: '2016-08-25',
  purposes: ['ads_targeting', 'friend_suggestions'],
  summary: 'We will share your phone number with our parent company to suggest friends and to target ads.',
} as const;
