import { pauseResumeCommand } from './pause-resume.js';

export const resumeCommand = pauseResumeCommand(
  'resume',
  'Lets the running supervisor take jobs of FUNCTION again after "gworker pause".',
);
