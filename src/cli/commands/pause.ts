import { pauseResumeCommand } from './pause-resume.js';

export const pauseCommand = pauseResumeCommand(
  'pause',
  `Stops the running supervisor from taking jobs of FUNCTION: its connections stop
grabbing, and jobs already running finish. The job servers keep new jobs queued (or
give them to other boxes) until "gworker resume FUNCTION".`,
);
