/// OpenAPI definitions of the batch kinds.
enum BatchSchemas {
    static let batch = "io.k8s.api.batch.v1."

    static let jobSpec = SchemaDefinition(batch + "JobSpec", "JobSpec describes how the job execution will look like.", closed: false, fields: [
        SchemaField("parallelism", .integer, "Specifies the maximum desired number of pods the job should run at any given time."),
        SchemaField("completions", .integer, "Specifies the desired number of successfully finished pods the job should be run with."),
        SchemaField("activeDeadlineSeconds", .integer, "Specifies the duration in seconds relative to the startTime that the job may be continuously active before the system tries to terminate it."),
        SchemaField("backoffLimit", .integer, "Specifies the number of retries before marking this job failed. Defaults to 6."),
        SchemaField("selector", .ref(WorkloadSchemas.labelSelector), "A label query over pods that should match the pod count. Normally, the system sets this field for you."),
        SchemaField("manualSelector", .boolean, "manualSelector controls generation of pod labels and pod selectors. Leave it unset unless you are certain what you are doing."),
        SchemaField("template", .ref(WorkloadSchemas.core + "PodTemplateSpec"), "Describes the pod that will be created when executing a job. The only allowed restartPolicy values are \"Never\" or \"OnFailure\".", required: true),
        SchemaField("ttlSecondsAfterFinished", .integer, "ttlSecondsAfterFinished limits the lifetime of a Job that has finished execution (either Complete or Failed)."),
        SchemaField("completionMode", .string, "completionMode specifies how Pod completions are tracked. It can be `NonIndexed` (default) or `Indexed`."),
        SchemaField("suspend", .boolean, "suspend specifies whether the Job controller should create Pods or not."),
    ])

    static let job: [SchemaDefinition] = WorkloadSchemas.shared + [
        SchemaDefinition(batch + "Job", "Job represents the configuration of a single job.", kind: ("batch", "v1", "Job"),
            fields: CommonSchemas.topLevel(spec: batch + "JobSpec", status: batch + "JobStatus",
                specDescription: "Specification of the desired behavior of a job.", statusDescription: "Current status of a job.")),
        jobSpec,
        SchemaDefinition(batch + "JobStatus", "JobStatus represents the current state of a Job.", closed: false, fields: [
            SchemaField("conditions", .array(.freeform), "The latest available observations of an object's current state.", mergeKey: "type"),
            SchemaField("startTime", .time, "Represents time when the job controller started processing a job."),
            SchemaField("completionTime", .time, "Represents time when the job was completed."),
            SchemaField("active", .integer, "The number of pending and running pods which are not terminating."),
            SchemaField("ready", .integer, "The number of active pods which have a Ready condition."),
            SchemaField("succeeded", .integer, "The number of pods which reached phase Succeeded."),
            SchemaField("failed", .integer, "The number of pods which reached phase Failed."),
            SchemaField("completedIndexes", .string, "completedIndexes holds the completed indexes when .spec.completionMode = \"Indexed\" in a text format."),
        ]),
    ]

    static let cronJob: [SchemaDefinition] = job + [
        SchemaDefinition(batch + "CronJob", "CronJob represents the configuration of a single cron job.", kind: ("batch", "v1", "CronJob"),
            fields: CommonSchemas.topLevel(spec: batch + "CronJobSpec", status: batch + "CronJobStatus",
                specDescription: "Specification of the desired behavior of a cron job, including the schedule.", statusDescription: "Current status of a cron job.")),
        SchemaDefinition(batch + "CronJobSpec", "CronJobSpec describes how the job execution will look like and when it will actually run.", fields: [
            SchemaField("schedule", .string, "The schedule in Cron format.", required: true),
            SchemaField("timeZone", .string, "The time zone name for the given schedule; defaults to the time zone of the server."),
            SchemaField("startingDeadlineSeconds", .integer, "Optional deadline in seconds for starting the job if it misses scheduled time for any reason."),
            SchemaField("concurrencyPolicy", .string, "Specifies how to treat concurrent executions of a Job: Allow (default), Forbid or Replace."),
            SchemaField("suspend", .boolean, "This flag tells the controller to suspend subsequent executions. Defaults to false."),
            SchemaField("jobTemplate", .ref(batch + "JobTemplateSpec"), "Specifies the job that will be created when executing a CronJob.", required: true),
            SchemaField("successfulJobsHistoryLimit", .integer, "The number of successful finished jobs to retain. Defaults to 3."),
            SchemaField("failedJobsHistoryLimit", .integer, "The number of failed finished jobs to retain. Defaults to 1."),
        ]),
        SchemaDefinition(batch + "JobTemplateSpec", "JobTemplateSpec describes the data a Job should have when created from a template.", fields: [
            SchemaField("metadata", .ref(CommonSchemas.objectMeta), "Standard object's metadata of the jobs created from this template."),
            SchemaField("spec", .ref(batch + "JobSpec"), "Specification of the desired behavior of the job."),
        ]),
        SchemaDefinition(batch + "CronJobStatus", "CronJobStatus represents the current state of a cron job.", closed: false, fields: [
            SchemaField("active", .array(.freeform), "A list of pointers to currently running jobs."),
            SchemaField("lastScheduleTime", .time, "Information when was the last time the job was successfully scheduled."),
            SchemaField("lastSuccessfulTime", .time, "Information when was the last time the job successfully completed."),
        ]),
    ]
}
